import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { formatReference, isImageReference, parseReference } from "./reference.js";

const D = "sha256:" + "a".repeat(64);

function code(fn: () => unknown): string | undefined {
  try { fn(); return undefined; } catch (e) { return (e as { code?: string }).code; }
}

describe("parseReference", () => {
  it.each([
    ["localhost:5000/hello:1.0", { registry: "localhost:5000", repository: "hello", tag: "1.0" }],
    [`ghcr.io/me/hello@${D}`, { registry: "ghcr.io", repository: "me/hello", digest: D }],
    [`127.0.0.1:5000/a/b/c:v1@${D}`, { registry: "127.0.0.1:5000", repository: "a/b/c", tag: "v1", digest: D }],
    ["hello", { registry: "docker.io", repository: "library/hello" }],
    ["me/hello:latest", { registry: "docker.io", repository: "me/hello", tag: "latest" }],
    ["index.docker.io/me/x", { registry: "docker.io", repository: "me/x" }],
    ["[::1]:5000/x", { registry: "[::1]:5000", repository: "x" }],
    ["reg.example.com/a_b/c__d/e-f/g.h:T_1.x-y", { registry: "reg.example.com", repository: "a_b/c__d/e-f/g.h", tag: "T_1.x-y" }],
  ])("parses %s", (ref, want) => {
    expect(parseReference(ref)).toMatchObject(want);
  });

  it.each([
    ["", /empty/],
    ["localhost:5000/Hello:1", /name 'Hello'/],
    ["localhost:5000/he..llo", /name/],
    ["localhost:5000/-hello", /name/],
    ["localhost:5000/hello/", /name/],
    ["localhost:5000//hello", /name/],
    ["localhost:5000/hello:", /tag ''/],
    ["localhost:5000/hello:-bad", /tag '-bad'/],
    ["localhost:5000/hello:" + "x".repeat(129), /tag/],
    ["localhost:5000/hello:a/b", /name|tag/],
    ["localhost:5000/hello@sha256:abc", /digest 'sha256:abc'/],
    [`localhost:5000/hello@md5:${"a".repeat(32)}`, /digest/],
    [`localhost:5000/hello@sha256:${"A".repeat(64)}`, /digest/],
    ["local_host:5000/hello", /registry|name/],
    ["localhost:5000/hel lo", /whitespace/],
    ["r.io/" + "a".repeat(260), /longer than 255/],
  ])("refuses %s with WFN_REF_INVALID naming the bad part", (ref, why) => {
    expect(code(() => parseReference(ref))).toBe("WFN_REF_INVALID");
    expect(() => parseReference(ref)).toThrow(why);
  });

  it("formats back to an equivalent reference", () => {
    for (const ref of ["localhost:5000/hello:1.0", `ghcr.io/me/hello:v2@${D}`, "x.io/a/b"]) {
      expect(formatReference(parseReference(ref))).toBe(ref);
    }
  });
});

describe("isImageReference", () => {
  it.each([
    ["localhost:5000/hello:1.0", true],
    [`ghcr.io/me/hello@${D}`, true],
    ["127.0.0.1:5000/hello", true],
    ["./examples/hello", false],
    ["dist/hello.wasm", false],
    ["examples/hello", false],
    ["hello", false],
    ["/abs/path/hello", false],
    ["../hello", false],
    ["dist/hello.oci.tar", false],
  ])("%s -> %s", (s, want) => {
    expect(isImageReference(s)).toBe(want);
  });
});

describe("reference parser fuzz", () => {
  const alphabet = "abcXYZ019:/@._-+ \t\n[]%\\sha256";
  function randomRef(len: number): string {
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[randomBytes(1)[0]! % alphabet.length];
    return s;
  }

  it("only ever throws WFN_REF_INVALID, and whatever parses formats to something that parses the same", () => {
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const s = i % 3 === 0 ? "localhost:5000/" + randomRef(i % 40) : randomRef(i % 60);
      let r: ReturnType<typeof parseReference> | undefined;
      try {
        r = parseReference(s);
      } catch (e) {
        expect((e as { code?: string }).code).toBe("WFN_REF_INVALID");
      }
      if (r) {
        parsed++;
        const again = parseReference(formatReference(r));
        expect([s, again.registry, again.repository, again.tag, again.digest]).toEqual([s, r.registry, r.repository, r.tag, r.digest]);
      }
      expect(typeof isImageReference(s)).toBe("boolean");
    }
    expect(parsed).toBeGreaterThan(0);
  });
});
