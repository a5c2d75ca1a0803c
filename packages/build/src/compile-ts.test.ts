import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { SDK_TS } from "./compile-ts.js";

describe("the TypeScript SDK", () => {
  // Function builds leave the SDK's own diagnostics out (compile-ts.ts), so this test is what keeps it clean.
  it("type-checks under the options `wasm-fn init --lang ts` writes (ES2022 + WebWorker, strict)", () => {
    const opts: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true, noEmit: true, skipLibCheck: true, lib: ["lib.es2022.d.ts", "lib.webworker.d.ts"], types: [],
    };
    const program = ts.createProgram(["index.ts", "serve.ts", "wasi.d.ts"].map((f) => path.join(SDK_TS, f)), opts);
    const diags = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
    expect(diags).toEqual([]);
  });
});
