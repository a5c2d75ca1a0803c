/**
 * TypeScript and JavaScript functions: type-check (the TypeScript compiler, the function's own
 * tsconfig.json), bundle with its npm dependencies (esbuild), and make a `wasi:http/proxy`
 * component with componentize-js (SpiderMonkey through StarlingMonkey). The component is cached by
 * the hash of what went into it: the same bundle builds in milliseconds the second time.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { builtinModules, createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WfnError } from "@wasm-fn/abi";
import { BuildErrors } from "./errors.js";
import { cacheRoot } from "./instrumented.js";

const require = createRequire(import.meta.url);
const sdkRoot = path.dirname(require.resolve("@wasm-fn/sdk/package.json"));
/** The TypeScript SDK's sources (bundled into each function; no build step of their own). */
export const SDK_TS = path.join(sdkRoot, "ts");
/** The WIT world TS functions are built for (wasi:http/proxy@0.2.10). */
export const WIT_DIR = fileURLToPath(new URL("../wit", import.meta.url));

/** An installed package's version (read from its package.json, which its `exports` may not expose). */
export function packageVersion(name: string): string {
  for (const d of require.resolve.paths(name) ?? []) {
    const f = path.join(d, name, "package.json");
    if (existsSync(f)) return (JSON.parse(readFileSync(f, "utf8")) as { version: string }).version;
  }
  throw new WfnError(BuildErrors.TOOL_MISSING, `${name} is not installed next to @wasm-fn/build: reinstall wasm-fn (npm ci)`);
}

export interface TsBuild {
  component: Uint8Array;
  /** The bundle componentize-js was given (kept as dist/<name>.bundle.js: runtime stack traces point into it). */
  bundle: string;
  /** True when componentize ran (false: the cache had it). */
  componentized: boolean;
  ms: { check: number; bundle: number; componentize: number };
}

/**
 * Builds the function whose handler is `entry` (relative to `fnDir`). `lang: "js"` skips the type check.
 * @example const { component } = await compileTypeScript("examples/hello-ts", "src/index.ts", "ts");
 */
export async function compileTypeScript(dir: string, entry: string, lang: "ts" | "js", opts: { onStep?: (s: string) => void; name?: string } = {}): Promise<TsBuild> {
  const t0 = performance.now();
  const fnDir = path.resolve(dir);
  const entryAbs = path.resolve(fnDir, entry);
  if (!existsSync(entryAbs)) throw new WfnError(BuildErrors.COMPILE, `${entry} does not exist in ${fnDir}: write the handler there, or set entry: in wasm-fn.yaml`);
  if (lang === "ts") {
    opts.onStep?.(`type-checking ${entry} (tsc)`);
    await typeCheck(fnDir, entryAbs);
  }
  const t1 = performance.now();
  opts.onStep?.(`bundling ${entry} with its npm dependencies (esbuild)`);
  const bundle = await bundleHandler(fnDir, entryAbs);
  const t2 = performance.now();
  const version = packageVersion("@bytecodealliance/componentize-js");
  const key = createHash("sha256").update(`componentize-js ${version}\n`).update(await witHash()).update(bundle).digest("hex");
  const cached = path.join(cacheRoot(), "componentize", `${key}.wasm`);
  let component: Uint8Array | null = await readFile(cached).catch(() => null);
  const componentized = component === null;
  if (component === null) {
    opts.onStep?.(`making the component (componentize-js ${version}; ~20 s the first time, cached after)`);
    component = await componentize(fnDir, bundle, opts.name ?? "function");
    try {
      await mkdir(path.dirname(cached), { recursive: true });
      await writeFile(`${cached}.${process.pid}.tmp`, component);
      await rename(`${cached}.${process.pid}.tmp`, cached);
    } catch { /* a read-only cache: componentized again next time */ }
  }
  return { component, bundle, componentized, ms: { check: t1 - t0, bundle: t2 - t1, componentize: performance.now() - t2 } };
}

let witDigest: string | null = null;
async function witHash(): Promise<string> {
  if (witDigest) return witDigest;
  const h = createHash("sha256");
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith(".wit")) h.update(path.relative(WIT_DIR, p)).update(await readFile(p));
    }
  };
  await walk(WIT_DIR);
  return (witDigest = h.digest("hex"));
}

/** The TypeScript compiler over the function's project; errors name the user's file, line and column. */
export async function typeCheck(fnDir: string, entryAbs: string): Promise<void> {
  const ts = (await import("typescript")).default;
  const configPath = path.join(fnDir, "tsconfig.json");
  // The SDK resolves from the CLI's install, wherever the function is (it needs no node_modules of its own).
  const forced = { noEmit: true, paths: { "@wasm-fn/sdk": [path.join(SDK_TS, "index.ts")] }, allowImportingTsExtensions: true };
  let options: import("typescript").CompilerOptions;
  let rootNames: string[];
  if (existsSync(configPath)) {
    const diag: import("typescript").Diagnostic[] = [];
    const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => diag.push(d) });
    if (!parsed || diag.length > 0 || parsed.errors.length > 0) throw checkError(ts, fnDir, [...diag, ...(parsed?.errors ?? [])], "tsconfig.json");
    options = { ...parsed.options, ...forced, paths: { ...parsed.options.paths, ...forced.paths } };
    rootNames = parsed.fileNames.includes(entryAbs) ? parsed.fileNames : [...parsed.fileNames, entryAbs];
  } else {
    options = {
      ...forced, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true, skipLibCheck: true, lib: ["lib.es2022.d.ts", "lib.webworker.d.ts"], types: [],
    };
    rootNames = [entryAbs];
  }
  const program = ts.createProgram([...rootNames, path.join(SDK_TS, "wasi.d.ts")], options);
  // The SDK's own sources are checked by this repository's tests; under a user's compiler options
  // they could report what is not the user's to fix. The user's uses of its types are checked.
  const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error && !d.file?.fileName.startsWith(SDK_TS));
  if (diags.length > 0) throw checkError(ts, fnDir, diags, path.relative(fnDir, entryAbs));
}

function checkError(ts: typeof import("typescript"), fnDir: string, diags: readonly import("typescript").Diagnostic[], what: string): WfnError {
  const lines = diags.slice(0, 20).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
    if (!d.file || d.start === undefined) return `error TS${d.code}: ${msg}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${shortPath(fnDir, d.file.fileName)}:${line + 1}:${character + 1} - error TS${d.code}: ${msg}`;
  });
  const more = diags.length > 20 ? `\n... and ${diags.length - 20} more` : "";
  return new WfnError(BuildErrors.COMPILE, `TypeScript found ${diags.length} error${diags.length === 1 ? "" : "s"} in ${what}:\n${lines.join("\n")}${more}`);
}

function shortPath(fnDir: string, file: string): string {
  const rel = path.relative(fnDir, file);
  if (file.startsWith(SDK_TS)) return `@wasm-fn/sdk/${path.relative(SDK_TS, file)}`;
  return rel.startsWith("..") ? file : rel;
}

/** The entry componentize-js is given: the user's default export behind the wasi:http adapter. */
function entrySource(entryAbs: string): string {
  return `import handler from ${JSON.stringify(entryAbs)};
import { serve } from ${JSON.stringify(path.join(SDK_TS, "serve.ts"))};
export const incomingHandler = serve(handler);
`;
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

async function bundleHandler(fnDir: string, entryAbs: string): Promise<string> {
  const esbuild = await import("esbuild");
  let out: import("esbuild").BuildResult & { outputFiles: import("esbuild").OutputFile[] };
  try {
    out = await esbuild.build({
      stdin: { contents: entrySource(entryAbs), resolveDir: fnDir, sourcefile: "__wasm_fn_entry__.js", loader: "js" },
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      // npm packages with a build for Workers or browsers get that one (no Node built-ins in a component).
      conditions: ["workerd", "worker", "browser", "import"],
      mainFields: ["module", "main"],
      external: ["wasi:*"],
      logLevel: "silent",
      absWorkingDir: path.resolve(fnDir),
      legalComments: "none",
      plugins: [{
        name: "wasm-fn",
        setup(b) {
          b.onResolve({ filter: /^@wasm-fn\/sdk$/ }, () => ({ path: path.join(SDK_TS, "index.ts") }));
          b.onResolve({ filter: /^[a-z_:/]+$/ }, (a) => {
            if (!BUILTINS.has(a.path)) return undefined;
            return { errors: [{ text: `${a.path} is a Node.js built-in module, and a component has no Node.js APIs: use Web APIs (fetch, crypto.subtle, TextEncoder, URL) or an npm package that runs in browsers or Workers` }] };
          });
        },
      }],
    });
  } catch (e) {
    const errors = (e as { errors?: import("esbuild").Message[] }).errors;
    if (!errors) throw new WfnError(BuildErrors.COMPILE, `esbuild could not bundle ${path.relative(fnDir, entryAbs)}: ${(e as Error).message}`);
    const lines = errors.slice(0, 20).map((m) => (m.location ? `${shortPath(fnDir, path.resolve(fnDir, m.location.file))}:${m.location.line}:${m.location.column + 1} - error: ${m.text}` : `error: ${m.text}`));
    throw new WfnError(BuildErrors.COMPILE, `could not bundle ${path.relative(fnDir, entryAbs)}:\n${lines.join("\n")}`);
  }
  return out.outputFiles[0]!.text;
}

/** componentize-js reads the bundle from a file; its name is what stack traces show, so it is the one `build` keeps (dist/<name>.bundle.js). */
async function componentize(fnDir: string, bundle: string, name: string): Promise<Uint8Array> {
  const { componentize: make } = (await import("@bytecodealliance/componentize-js")) as unknown as {
    componentize(o: { sourcePath: string; witPath: string; worldName: string }): Promise<{ component: Uint8Array }>;
  };
  const dist = path.join(fnDir, "dist");
  await mkdir(dist, { recursive: true });
  const src = path.join(dist, `${name}.bundle.js`);
  await writeFile(`${src}.${process.pid}.tmp`, bundle);
  await rename(`${src}.${process.pid}.tmp`, src);
  try {
    const { component } = await make({ sourcePath: src, witPath: WIT_DIR, worldName: "function" });
    return component;
  } catch (e) {
    await rm(src, { force: true });
    throw new WfnError(BuildErrors.COMPILE, `componentize-js could not make a component of the bundle: ${(e as Error).message}`);
  }
}
