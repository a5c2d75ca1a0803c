import { describe, expect, it } from "vitest";
import { Router, type Routable } from "./router.js";

const fn = (name: string, namespace = "default", paths: string[] = [], hostnames: string[] = []): Routable => ({ name, namespace, paths, hostnames });

describe("Router (OpenFunction Gateway routes)", () => {
  const hello = fn("hello");
  const shop = fn("orders", "shop", ["/api/orders"], ["orders.example.com"]);
  const r = new Router<Routable>("local");
  r.add(hello);
  r.add(shop);

  it("routes /{namespace}/{name}[/rest]", () => {
    expect(r.match(undefined, "/default/hello")).toEqual({ target: hello, rest: "/" });
    expect(r.match(undefined, "/default/hello/a/b")).toEqual({ target: hello, rest: "/a/b" });
    expect(r.match(undefined, "/shop/orders/7")).toEqual({ target: shop, rest: "/7" });
    expect(r.match(undefined, "/default/hellox")).toBeUndefined();
    expect(r.match(undefined, "/other/hello")).toBeUndefined();
  });

  it("routes Host: {name}.{namespace}.{domain} and custom hostnames, ignoring the port", () => {
    expect(r.match("hello.default.local:8080", "/x")).toEqual({ target: hello, rest: "/x" });
    expect(r.match("ORDERS.SHOP.LOCAL", "/")).toEqual({ target: shop, rest: "/" });
    expect(r.match("orders.example.com", "/y")).toEqual({ target: shop, rest: "/y" });
    expect(r.match("unknown.default.local", "/default/hello")?.target).toBe(hello);
  });

  it("routes custom paths on a segment boundary", () => {
    expect(r.match(undefined, "/api/orders")).toEqual({ target: shop, rest: "/" });
    expect(r.match(undefined, "/api/orders/9")).toEqual({ target: shop, rest: "/9" });
    expect(r.match(undefined, "/api/ordersx")).toBeUndefined();
  });

  it("forgets a removed function", () => {
    const r2 = new Router<Routable>("local");
    r2.add(hello);
    r2.remove(hello);
    expect(r2.match(undefined, "/default/hello")).toBeUndefined();
    expect(r2.routes()).toEqual([]);
  });
});
