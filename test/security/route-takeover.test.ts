// Attack: a function's config claims another function's path or hostname (first one won silently,
// so a later deploy took its traffic), or "/" to take everything. Overlapping routes are refused at
// `run` and at hot swap, with a message naming both functions; a refused swap changes nothing.
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

let shim: Served;
let dir: string;
let mover: string;

beforeAll(async () => {
  await ensureBuilt("examples/hello");
  dir = await mkdtemp(path.join(os.tmpdir(), "wfn-takeover-"));
  const wasm = await readFile("examples/hello/dist/hello.wasm");
  const fn = async (name: string, route: Record<string, unknown>) => {
    await writeFile(path.join(dir, `${name}.wasm`), wasm);
    await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ config: { name, triggers: { http: { route } } } }));
    return path.join(dir, `${name}.wasm`);
  };
  const targets = [
    "examples/hello",                                            // paths: ["/hello"]
    await fn("thief", { paths: ["/hello"] }),                    // the same path
    await fn("inner", { paths: ["/hello/admin"] }),              // a part of hello's path
    await fn("catchall", { paths: ["/"] }),                      // everything
    await fn("shadow", { paths: ["/default/hello"] }),           // hello's own /{namespace}/{name}
    await fn("squatter", { hostnames: ["hello.default.local"] }), // hello's host
    await fn("fair", { paths: ["/fair"] }),
  ];
  // a function directory whose config a later reload changes
  mover = path.join(dir, "mover");
  await cp("examples/hello", mover, { recursive: true });
  await writeFile(path.join(mover, "wasm-fn.yaml"), "name: mover\nversion: 0.1.0\nlang: as\ntriggers:\n  http:\n    route:\n      paths: [\"/mover\"]\n");
  const b = await import("./../harness/cli.js").then((m) => m.cli(["build", mover, "--no-image", "--no-wasmedge"]));
  expect(b.code, b.stderr).toBe(0);
  shim = await serve([...targets, mover], ["--no-access-log"]);
}, 120_000);
afterAll(async () => { await shim?.stop(); });

describe("overlapping routes are refused at run", () => {
  it("each claim names both functions; hello keeps its traffic; a fair route is served", async () => {
    const out = shim.output();
    expect(out).toMatch(/WFN_ROUTE_CONFLICT: path \/hello of default\/thief overlaps path \/hello of default\/hello/);
    expect(out).toMatch(/WFN_ROUTE_CONFLICT: path \/hello\/admin of default\/inner overlaps path \/hello of default\/hello/);
    expect(out).toMatch(/WFN_ROUTE_CONFLICT: path \/ of default\/catchall/);
    expect(out).toMatch(/WFN_ROUTE_CONFLICT: path \/default\/hello of default\/shadow covers default\/hello's route \/default\/hello/);
    expect(out).toMatch(/WFN_ROUTE_CONFLICT: hostname hello\.default\.local of default\/squatter is already default\/hello's/);
    expect(await (await fetch(`${shim.url}/hello?name=mine`)).text()).toBe("hello, mine\n");
    expect(await (await fetch(`${shim.url}/hello/admin`)).status).toBe(200); // hello's, not inner's
    expect((await fetch(`${shim.url}/default/thief`)).status).toBe(404);
    expect(await (await fetch(`${shim.url}/fair?name=f`)).text()).toBe("hello, f\n");
  });
});

describe("and at hot swap", () => {
  it("a reload whose new config claims hello's path is 409; the old routes stay", async () => {
    await writeFile(path.join(mover, "wasm-fn.yaml"), "name: mover\nversion: 0.2.0\nlang: as\ntriggers:\n  http:\n    route:\n      paths: [\"/hello\"]\n");
    const r = await fetch(`${shim.url}/admin/functions/default/mover/reload`, { method: "POST" });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ reason: "WFN_ROUTE_CONFLICT", message: expect.stringMatching(/path \/hello of default\/mover overlaps path \/hello of default\/hello/) });
    expect(await (await fetch(`${shim.url}/mover?name=m`)).text()).toBe("hello, m\n");
    expect(await (await fetch(`${shim.url}/hello?name=h`)).text()).toBe("hello, h\n");
  });
});
