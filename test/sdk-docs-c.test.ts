// docs/sdk-c.md cannot drift from the C SDK's headers: every name the headers export is in the
// reference's tables and every name the page mentions is exported; every example on the page (the
// tables' one-liners and the ```c blocks) is compiled with the flags `wasm-fn build` uses for C,
// and warnings as errors. (test/doc-snippets.test.ts compiles the ```c blocks of every page, alone.)
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { clangArgs } from "../packages/build/dist/compile-c.js";
import { ROOT } from "./harness/cli.js";

const run = promisify(execFile);
const INCLUDE = path.join(ROOT, "packages", "sdk", "include");
const headers = readdirSync(INCLUDE).filter((f) => f.endsWith(".h")).map((f) => readFileSync(path.join(INCLUDE, f), "utf8")).join("\n");
const doc = readFileSync(path.join(ROOT, "docs", "sdk-c.md"), "utf8");

/** What the headers export: functions, typedefs, macros and enum constants (wfn__ names are the SDK's own). */
function exported(): Set<string> {
  const names = [
    ...[...headers.matchAll(/^(?:WFN_(?:IMPORT|EXPORT)\("[^"]*"\)\s+|(?:__attribute__\(\(.*?\)\)\s+)?static inline\s+)[\w\s*]*?\b(wfn_\w+)\s*\(/gm)].map((m) => m[1]!),
    ...[...headers.matchAll(/}\s*(wfn_\w+);/g)].map((m) => m[1]!),
    ...[...headers.matchAll(/^#(?:define|ifndef)\s+(WFN_\w+)/gm)].map((m) => m[1]!),
    ...[...headers.matchAll(/\b(WFN_[A-Z0-9_]+)\s*=\s*-?\d+/g)].map((m) => m[1]!),
  ];
  return new Set(names.filter((n) => !n.includes("__")));
}

/** The reference tables' rows: | `name` | `example` | what | */
const rows = [...doc.matchAll(/^\| `(\w+)` \| `(.+?)` \| .+ \|$/gm)].map((m) => ({ name: m[1]!, example: m[2]! }));
const blocks = [...doc.matchAll(/^```c\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const PRELUDE = "// The examples on this page assume:";

const tmp = mkdtempSync(path.join(os.tmpdir(), "wfn-sdk-docs-c-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Compiles C source like `wasm-fn build` does, plus errors for what C would otherwise let through. */
async function compile(name: string, source: string): Promise<void> {
  const file = path.join(tmp, `${name}.c`);
  writeFileSync(file, source);
  const strict = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-variable", "-Wno-unused-but-set-variable", "-Wno-unused-function", "-Wno-unused-parameter"];
  try {
    await run(process.env.WASM_FN_CLANG ?? "clang", [...strict, ...clangArgs(file, path.join(tmp, `${name}.wasm`), { optimize: true })]);
  } catch (e) {
    throw new Error(`${name} does not compile:\n${(e as { stderr?: string }).stderr ?? e}\n--- source ---\n${source}`);
  }
}

describe("docs/sdk-c.md is the C SDK's reference", () => {
  it("lists every name the headers export, and only those", () => {
    const names = exported();
    const documented = new Set(rows.map((r) => r.name));
    expect(names.size).toBeGreaterThan(100);
    expect([...names].filter((n) => !documented.has(n)), "exported by packages/sdk/include but not in docs/sdk-c.md's tables").toEqual([]);
    expect([...documented].filter((n) => !names.has(n)), "in docs/sdk-c.md's tables but not exported by the headers").toEqual([]);
    expect(rows.length, "a name listed twice").toBe(documented.size);
    const mentioned = new Set([...doc.matchAll(/\b(?:wfn|WFN)_\w+/g)].map((m) => m[0]));
    expect([...mentioned].filter((n) => !names.has(n)), "mentioned in docs/sdk-c.md but not exported").toEqual([]);
  });

  it("gives each name a one-line example that uses it", () => {
    for (const r of rows) expect(new RegExp(`\\b${r.name}\\b`).test(r.example), `${r.name}'s example: ${r.example}`).toBe(true);
  });

  it("every example compiles with the flags of `wasm-fn build`", async () => {
    const prelude = blocks.find((b) => b.startsWith(PRELUDE));
    expect(prelude, `a \`\`\`c block starting "${PRELUDE}"`).toBeDefined();
    // File-scope one-liners (a handler, an export, an import, a #define) are their own files.
    const fileScope = (ex: string) => /^(#|WFN_(HANDLER|EXPORT|IMPORT)\b)/.test(ex);
    const own = rows.filter((r) => fileScope(r.example));
    expect(own.map((r) => r.name).sort()).toEqual(["WFN_EXPORT", "WFN_HANDLER", "WFN_IMPORT", "WFN_NO_DEFAULT_EXPORTS"]);
    for (const r of own) await compile(`row-${r.name}`, r.example.startsWith("#") ? `${r.example}\n#include "wasm_fn.h"\n` : `#include "wasm_fn.h"\n${r.example}\n`);
    // The rest, and the blocks that are not whole files, each in braces inside one handler after the prelude.
    const fragments = [...rows.filter((r) => !fileScope(r.example)).map((r) => r.example), ...blocks.filter((b) => b !== prelude && !b.includes("#include"))];
    expect(fragments.length).toBeGreaterThan(120);
    await compile("fragments", `#include "wasm_fn.h"\nWFN_HANDLER int handle(void) {\n${prelude}\n${fragments.map((f) => `{\n${f}\n}`).join("\n")}\nreturn WFN_OUTCOME_SUCCESS;\n}\n`);
    const files = blocks.filter((b) => b.includes("#include"));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const [i, b] of files.entries()) await compile(`file-${i}`, b);
  }, 300_000);
});
