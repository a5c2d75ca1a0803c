/**
 * Every code snippet in README.md and docs/*.md compiles (issue 13, point 3): a snippet that does
 * not work as written is a bug a newcomer meets in the first hour. The fence's info string says
 * what a snippet is:
 *   ```ts                AssemblyScript (a whole function when it exports `handle`; a module when it
 *                        imports; else statements run inside a handler with `req` and every SDK
 *                        name in scope)
 *   ```ts component      a TypeScript function (type-checked against the TS SDK, as `wasm-fn build`)
 *   ```ts node           TypeScript using this repository's packages (type-checked)
 *   ```ts file=<path>    the text of a file in this repository (compared with it)
 *   ```c                 C (a whole file with #include, else statements inside a handler)
 *   ```yaml wasm-fn      a wasm-fn.yaml, or part of one (validated; `name:` added when absent)
 * A fence with any other language (sh, yaml, json, text, ...) is not code this test can run.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileAssemblyScript, compileC, normalizeConfig, typeCheckTypeScript } from "@wasm-fn/build";
import { ROOT } from "./harness/cli.js";

interface Snippet { file: string; line: number; lang: string; kind: string; code: string }

async function snippets(): Promise<Snippet[]> {
  const files = ["README.md", ...(await readdir(path.join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const out: Snippet[] = [];
  for (const file of files) {
    const lines = (await readFile(path.join(ROOT, file), "utf8")).split("\n");
    for (let i = 0; i < lines.length; i++) {
      const m = /^(\s*)```(\w+)\s*(.*)$/.exec(lines[i]!);
      if (!m) continue;
      const indent = m[1]!.length;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
      out.push({ file, line: i + 1, lang: m[2]!, kind: m[3]!.trim(), code: body.join("\n") + "\n" });
      i = j;
    }
  }
  return out;
}

const SDK_AS_EXPORTS = async (): Promise<string[]> => {
  const src = await readFile(path.join(ROOT, "packages/sdk/assembly/index.ts"), "utf8");
  return [...src.matchAll(/export \{([^}]+)\} from/g)].flatMap((m) => m[1]!.split(",").map((s) => s.trim()).filter(Boolean));
};

let all: Snippet[] = [];
let tmp = "";
beforeAll(async () => {
  all = await snippets();
  tmp = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-snippets-"));
});
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

const where = (s: Snippet) => `${s.file}:${s.line}`;

describe("snippets in README.md and docs/", () => {
  it("every ts/c fence says what it is (no snippet escapes the checks below)", () => {
    const known = new Set(["", "component", "node"]);
    const bad = all.filter((s) => (s.lang === "ts" || s.lang === "typescript") && !known.has(s.kind) && !s.kind.startsWith("file="));
    expect(bad.map(where)).toEqual([]);
    expect(all.filter((s) => s.lang === "typescript").map(where)).toEqual([]);
  });

  it("AssemblyScript snippets compile", { timeout: 600_000 }, async () => {
    const names = await SDK_AS_EXPORTS();
    const failures: string[] = [];
    const as = all.filter((s) => s.lang === "ts" && s.kind === "");
    expect(as.length).toBeGreaterThan(5);
    for (const [n, s] of as.entries()) {
      const dir = path.join(tmp, `as-${n}`);
      await mkdir(path.join(dir, "assembly"), { recursive: true });
      const whole = /export function handle\s*\(/.test(s.code);
      const module = !whole && /^import /m.test(s.code);
      const source = whole ? s.code
        : module ? `${s.code}\nimport { Request as SnippetRequest, Response as SnippetResponse } from "@wasm-fn/sdk";\nexport function handle(req: SnippetRequest): SnippetResponse { return SnippetResponse.text(""); }\n`
        : `import { ${names.join(", ")} } from "@wasm-fn/sdk";\n// ${where(s)}\nexport function handle(req: Request): Response {\n${s.code}\n  return Response.text("");\n}\n`;
      await writeFile(path.join(dir, "assembly", "index.ts"), source);
      try {
        await compileAssemblyScript(dir, "assembly/index.ts", { optimize: false });
      } catch (e) {
        failures.push(`${where(s)}:\n${(e as Error).message}`);
      }
    }
    expect(failures.join("\n\n")).toBe("");
  });

  it("C snippets compile with clang for wasm32-wasi", { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    const cs = all.filter((s) => s.lang === "c");
    expect(cs.length).toBeGreaterThan(0);
    for (const [n, s] of cs.entries()) {
      const dir = path.join(tmp, `c-${n}`);
      await mkdir(dir, { recursive: true });
      const whole = /#include/.test(s.code);
      const source = whole ? s.code : `#include "wasm_fn.h"\n#include <string.h>\n#include <stdlib.h>\n/* ${where(s)} */\nWFN_HANDLER int handle(void) {\n${s.code}\n  return WFN_OUTCOME_SUCCESS;\n}\n`;
      await writeFile(path.join(dir, "main.c"), source);
      try {
        await compileC(dir, "main.c", { optimize: false });
      } catch (e) {
        failures.push(`${where(s)}:\n${(e as Error).message}`);
      }
    }
    expect(failures.join("\n\n")).toBe("");
  });

  it("TypeScript function snippets type-check as `wasm-fn build` checks them", { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    const comps = all.filter((s) => s.lang === "ts" && s.kind === "component");
    expect(comps.length).toBeGreaterThan(0);
    for (const [n, s] of comps.entries()) {
      // Inside this repository, so imports such as hono resolve from its node_modules as a function's own would.
      const dir = path.join(ROOT, "test", ".snippets", `ts-${process.pid}-${n}`);
      await mkdir(path.join(dir, "src"), { recursive: true });
      const entry = path.join(dir, "src", "index.ts");
      await writeFile(entry, `// ${where(s)}\n${s.code}${/export default/.test(s.code) ? "" : "\nexport {};\n"}`);
      try {
        await typeCheckTypeScript(dir, entry);
      } catch (e) {
        failures.push(`${where(s)}:\n${(e as Error).message}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    await rm(path.join(ROOT, "test", ".snippets"), { recursive: true, force: true });
    expect(failures.join("\n\n")).toBe("");
  });

  it("TypeScript snippets that use this repository's packages type-check", async () => {
    const nodes = all.filter((s) => s.lang === "ts" && s.kind === "node");
    const failures: string[] = [];
    for (const [n, s] of nodes.entries()) {
      const file = path.join(ROOT, "test", `.snippet-node-${process.pid}-${n}.ts`);
      await writeFile(file, `// ${where(s)}\n${s.code}\nexport {};\n`);
      try {
        const program = ts.createProgram([file], {
          target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
          strict: true, noEmit: true, skipLibCheck: true, types: ["node"],
        });
        const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
        if (diags.length > 0) failures.push(`${where(s)}:\n${diags.map((d) => ts.flattenDiagnosticMessageText(d.messageText, " ")).join("\n")}`);
      } finally {
        await rm(file, { force: true });
      }
    }
    expect(failures.join("\n\n")).toBe("");
  });

  it("snippets that quote a file are that file", async () => {
    const quoted = all.filter((s) => s.kind.startsWith("file="));
    for (const s of quoted) {
      const text = await readFile(path.join(ROOT, s.kind.slice(5)), "utf8");
      expect(text.trim(), where(s)).toBe(s.code.trim());
    }
  });

  it("wasm-fn.yaml snippets are valid config", () => {
    const ys = all.filter((s) => s.lang === "yaml" && s.kind === "wasm-fn");
    expect(ys.length).toBeGreaterThan(0);
    const failures: string[] = [];
    for (const s of ys) {
      try {
        const doc = parseYaml(s.code) as Record<string, unknown>;
        normalizeConfig({ name: "snippet", ...doc }, where(s));
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    expect(failures).toEqual([]);
  });
});
