// A TypeScript function is a module with Web Request -> Response: test it in Node (vitest) as it is,
// no build and no shim (docs/typescript.md, "Test").
import { describe, expect, it } from "vitest";
import handler from "../src/index.ts";

describe("hello-ts", () => {
  it("greets the name in the query", async () => {
    const res = await handler.fetch(new Request("http://localhost/default/hello-ts?name=vitest"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("hello, vitest\n");
  });

  it("greets the world without one", async () => {
    expect(await (await handler.fetch(new Request("http://localhost/"))).text()).toBe("hello, world\n");
  });
});
