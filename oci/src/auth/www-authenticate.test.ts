import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseWwwAuthenticate } from "./www-authenticate.js";

describe("parseWwwAuthenticate", () => {
  it("reads Docker Hub's bearer challenge", () => {
    const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"';
    expect(parseWwwAuthenticate(h)).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:samalba/my-app:pull,push" } },
    ]);
  });

  it("reads distribution's basic challenge and an insufficient_scope error", () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([{ scheme: "basic", params: { realm: "Registry Realm" } }]);
    const h = 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:me/x:pull",error="insufficient_scope"';
    expect(parseWwwAuthenticate(h)[0]!.params.error).toBe("insufficient_scope");
  });

  it("splits several challenges, in one header or several", () => {
    const h = 'Basic realm="r1", Bearer realm="https://a/t", service=s, Negotiate abc==';
    expect(parseWwwAuthenticate(h)).toEqual([
      { scheme: "basic", params: { realm: "r1" } },
      { scheme: "bearer", params: { realm: "https://a/t", service: "s" } },
      { scheme: "negotiate", params: {}, token68: "abc==" },
    ]);
    expect(parseWwwAuthenticate(['Basic realm="a"', 'Bearer realm="b"']).map((c) => c.scheme)).toEqual(["basic", "bearer"]);
  });

  it("handles case, spacing and escapes in quoted values", () => {
    const h = 'BEARER  Realm = "https://x/t?a=1,b=2" ,  SCOPE="a \\"quoted\\" \\\\ value"';
    expect(parseWwwAuthenticate(h)).toEqual([{ scheme: "bearer", params: { realm: "https://x/t?a=1,b=2", scope: 'a "quoted" \\ value' } }]);
  });

  it("returns nothing for absent or empty headers", () => {
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate("")).toEqual([]);
    expect(parseWwwAuthenticate(" , ,")).toEqual([]);
  });
});

describe("WWW-Authenticate parser fuzz", () => {
  const pick = <T>(xs: readonly T[]): T => xs[randomBytes(1)[0]! % xs.length]!;
  const word = (): string => randomBytes(1 + (randomBytes(1)[0]! % 8)).toString("base64url").replace(/[-_]/g, "x");
  const value = (): string => pick(["", "a b", 'q"uote', "back\\slash", "https://h/t?x=1,y=2", "repository:a/b:pull,push", word()]);
  const quote = (v: string): string => '"' + v.replace(/["\\]/g, (c) => "\\" + c) + '"';

  it("round-trips generated challenges", () => {
    for (let i = 0; i < 2000; i++) {
      const challenges = Array.from({ length: 1 + (i % 3) }, () => {
        const params: Record<string, string> = {};
        for (let j = 0; j < 1 + (randomBytes(1)[0]! % 4); j++) params[word().toLowerCase()] = value();
        return { scheme: pick(["bearer", "basic", "digest"]), params };
      });
      const header = challenges.map((c) => `${c.scheme} ${Object.entries(c.params).map(([k, v]) => `${k}=${quote(v)}`).join(pick([",", ", ", " , "]))}`).join(", ");
      expect(parseWwwAuthenticate(header)).toEqual(challenges);
    }
  });

  it("never throws or hangs on garbage, and always returns well-formed challenges", () => {
    const alphabet = 'aB= ,"\\\t;:/?x9=';
    for (let i = 0; i < 5000; i++) {
      const bytes = randomBytes(i % 80);
      const s = i % 2 ? bytes.toString("latin1") : Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
      const out = parseWwwAuthenticate(s);
      for (const c of out) {
        expect(c.scheme).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
        expect(typeof c.params).toBe("object");
      }
    }
  });
});
