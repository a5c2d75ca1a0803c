/**
 * wasm-fn.schema.json (issue 13, point 12): the file editors read is what `configJsonSchema()`
 * makes from the validator's own shapes, and a real JSON Schema validator (ajv) agrees with
 * `normalizeConfig` on every example's wasm-fn.yaml and on documents that are wrong.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import Ajv from "ajv";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { configJsonSchema, normalizeConfig } from "@wasm-fn/build";
import { ROOT } from "./harness/cli.js";

const FILE = path.join(ROOT, "packages/build/wasm-fn.schema.json");

async function exampleConfigs(): Promise<[string, unknown][]> {
  const out: [string, unknown][] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name === "dist") continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 3) await walk(p, depth + 1);
      else if (e.name === "wasm-fn.yaml") out.push([path.relative(ROOT, p), parseYaml(await readFile(p, "utf8"))]);
    }
  };
  await walk(path.join(ROOT, "examples"), 0);
  await walk(path.join(ROOT, "test/fixtures"), 0);
  return out;
}

describe("wasm-fn.schema.json", () => {
  it("is the schema the validator's shapes make (regenerate: node -e 'import(\"@wasm-fn/build\").then(m => console.log(JSON.stringify(m.configJsonSchema(), null, 2)))' > packages/build/wasm-fn.schema.json)", async () => {
    expect(JSON.parse(await readFile(FILE, "utf8"))).toEqual(configJsonSchema());
  });

  it("is shipped with @wasm-fn/build", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "packages/build/package.json"), "utf8")) as { exports: Record<string, unknown>; files?: string[] };
    expect(pkg.exports["./wasm-fn.schema.json"]).toBe("./wasm-fn.schema.json");
    if (pkg.files) expect(pkg.files).toContain("wasm-fn.schema.json");
  });

  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(configJsonSchema());

  it("accepts every example's and fixture's wasm-fn.yaml, as normalizeConfig does", async () => {
    const configs = await exampleConfigs();
    expect(configs.length).toBeGreaterThan(8);
    for (const [file, doc] of configs) {
      expect(() => normalizeConfig(doc, file), file).not.toThrow();
      expect(validate(doc), `${file}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });

  const wrong: [string, unknown, RegExp][] = [
    ["an unknown key", { name: "a", scaleOption: { minReplicas: 1 } }, /unknown key 'scaleOption' \(did you mean 'scaleOptions'\?\)/],
    ["a nested unknown key", { name: "a", limits: { timout: "1s" } }, /unknown key 'limits\.timout' \(did you mean 'timeout'\?\)/],
    ["a path without /", { name: "a", triggers: { http: { route: { paths: ["/ok", "nope"] } } } }, /triggers\.http\.route\.paths\[1\] 'nope' is not valid: a path starting with '\/'/],
    ["a name that is not a DNS label", { name: "Hello_World" }, /name 'Hello_World' is not valid/],
    ["a size that is not one", { name: "a", limits: { memory: "lots" } }, /limits\.memory must be a size/],
    ["a duration without a unit", { name: "a", limits: { timeout: "10" } }, /limits\.timeout must be a duration/],
    ["a wrong enum", { name: "a", lang: "rust" }, /lang must be one of as, c, ts, js/],
    ["a number where a map of strings goes", { name: "a", inputs: [{ dapr: { name: "p", metadata: { n: 1 } } }] }, /inputs\[0\]\.dapr\.metadata\.n must be a string/],
    ["no name", { version: "1.0.0" }, /name is required/],
    ["a replica count out of range", { name: "a", scaleOptions: { maxReplicas: 0 } }, /scaleOptions\.maxReplicas must be between 1 and 10000/],
  ];
  for (const [what, doc, message] of wrong) {
    it(`refuses ${what}, with the path in the message, as the editor's schema does`, () => {
      expect(() => normalizeConfig(doc, "wasm-fn.yaml")).toThrow(message);
      expect(validate(doc)).toBe(false);
    });
  }
});
