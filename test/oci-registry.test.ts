/**
 * `wasm-fn push / pull / login / inspect` against Debian's docker-registry (distribution), open
 * and behind htpasswd basic auth, through the real CLI binary.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeImageLayout } from "@wasm-fn/oci";
import { registryBlobPath, startRegistry, type RegistryHandle } from "./harness/registry.js";

const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const WASM = Buffer.concat([Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]), Buffer.from("wasm-fn e2e module")]);
let work: string;

interface Run { code: number; stdout: string; stderr: string }

/** Runs the CLI with a private HOME, cache and docker config. */
function wfn(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, HOME: join(work, "home"), WASM_FN_CACHE: join(work, "cache"), DOCKER_CONFIG: join(work, "docker"), ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.input ?? "");
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function fnDir(format: "image" | "artifact", name = "hello"): Promise<{ dir: string; digest: string }> {
  const dir = mkdtempSync(join(work, `${name}-${format}-`));
  const out = await writeImageLayout({ name, version: "0.1.0", wasm: WASM, format, metadata: { name, trigger: "http" } }, join(dir, "dist", "oci"), { tarPath: join(dir, "dist", `${name}.oci.tar`) });
  return { dir, digest: out.manifestDigest };
}

let open: RegistryHandle;
let image: { dir: string; digest: string };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wfn-e2e-oci-"));
  open = await startRegistry();
  image = await fnDir("image");
});
afterAll(async () => {
  await open?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("open registry", () => {
  it("push prints only the digest on stdout; pull on a clean cache gives back the same module", async () => {
    const push = await wfn(["push", `${open.host}/hello:0.1.0`, image.dir, "--insecure"]);
    expect(push).toMatchObject({ code: 0, stdout: `${image.digest}\n` });
    expect(push.stderr).toMatch(/uploaded/);
    const pull = await wfn(["--json", "pull", `${open.host}/hello:0.1.0`, "--insecure"], { env: { WASM_FN_CACHE: join(work, "clean-cache") } });
    expect(pull.code).toBe(0);
    const doc = JSON.parse(pull.stdout);
    expect(doc).toMatchObject({ digest: image.digest, metadata: { name: "hello", trigger: "http" } });
    expect(doc.wasmPath.startsWith(join(work, "clean-cache", "oci", "images"))).toBe(true);
    expect(readFileSync(doc.wasmPath).equals(WASM)).toBe(true);
  });

  it("push --json prints {ref, digest, size}; a second repository mounts the blobs instead of uploading", async () => {
    await wfn(["push", `${open.host}/first/hello:1`, image.dir, "--insecure"]);
    const res = await wfn(["push", `${open.host}/second/hello:1`, image.dir, "--insecure"]);
    expect(res.code).toBe(0);
    expect(res.stderr.match(/mounted from first\/hello/g)).toHaveLength(2);
    const json = await wfn(["--json", "push", `${open.host}/second/hello`, image.dir, "--insecure"]);
    expect(JSON.parse(json.stdout)).toEqual({ ref: `${open.host}/second/hello:0.1.0`, digest: image.digest, size: expect.any(Number) });
    expect(json.stderr).toBe("");
  });

  it("pushes and pulls the CNCF Wasm artifact format", async () => {
    const art = await fnDir("artifact");
    expect((await wfn(["push", `${open.host}/art:0.1.0`, art.dir, "--insecure"])).code).toBe(0);
    const pull = await wfn(["--json", "pull", `${open.host}/art:0.1.0`, "--insecure"]);
    expect(readFileSync(JSON.parse(pull.stdout).wasmPath).equals(WASM)).toBe(true);
    const inspect = JSON.parse((await wfn(["--json", "inspect", `${open.host}/art:0.1.0`, "--insecure"])).stdout);
    expect(inspect).toMatchObject({ digest: art.digest, config: { mediaType: "application/vnd.wasm.config.v0+json" }, layers: [{ mediaType: "application/wasm" }] });
  });

  it("inspect shows the same image from the registry, the layout and the tar", async () => {
    await wfn(["push", `${open.host}/hello:0.1.0`, image.dir, "--insecure"]);
    const human = await wfn(["inspect", `${open.host}/hello:0.1.0`, "--insecure"]);
    expect(human.stdout).toContain(`digest      ${image.digest}`);
    expect(human.stdout).toContain("entrypoint  /hello.wasm");
    expect(human.stdout).toContain("module.wasm.image/variant: compat-smart");
    for (const target of [join(image.dir, "dist", "oci"), join(image.dir, "dist", "hello.oci.tar")]) {
      const doc = JSON.parse((await wfn(["--json", "inspect", target])).stdout);
      expect(doc).toMatchObject({ digest: image.digest, config: { content: { architecture: "wasm", os: "wasip1" } } });
    }
    const fromTar = JSON.parse((await wfn(["--json", "pull", join(image.dir, "dist", "hello.oci.tar")])).stdout);
    expect(fromTar.digest).toBe(image.digest);
  });

  it("a second pull uses the cache, and a digest reference works with the registry gone", async () => {
    const reg = await startRegistry();
    try {
      await wfn(["push", `${reg.host}/hello:0.1.0`, image.dir, "--insecure"]);
      const env = { WASM_FN_CACHE: join(work, "cache-2") };
      const first = JSON.parse((await wfn(["--json", "pull", `${reg.host}/hello:0.1.0`, "--insecure"], { env })).stdout);
      const ino = statSync(first.wasmPath).ino;
      const second = JSON.parse((await wfn(["--json", "pull", `${reg.host}/hello:0.1.0`, "--insecure"], { env })).stdout);
      expect(second.wasmPath).toBe(first.wasmPath);
      expect(statSync(second.wasmPath).ino).toBe(ino); // not rewritten
      await reg.stop();
      const offline = await wfn(["--json", "pull", `${reg.host}/hello@${image.digest}`], { env });
      expect(offline.code).toBe(0);
      expect(JSON.parse(offline.stdout).wasmPath).toBe(first.wasmPath);
      const tag = await wfn(["pull", `${reg.host}/hello:0.1.0`, "--insecure"], { env });
      expect(tag.stderr).toMatch(/WFN_REGISTRY_UNREACHABLE/);
    } finally {
      await reg.stop();
    }
  });

  it("refuses a blob tampered with in the registry's storage, and caches nothing", async () => {
    const { dir, digest } = await fnDir("image", "tamper");
    await wfn(["push", `${open.host}/tamper:1`, dir, "--insecure"]);
    const layer = JSON.parse((await wfn(["--json", "inspect", join(dir, "dist", "oci")])).stdout).layers[0].digest as string;
    const path = registryBlobPath(open, layer);
    const bytes = readFileSync(path);
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(path, bytes);
    const cache = join(work, "tamper-cache");
    const res = await wfn(["pull", `${open.host}/tamper:1`, "--insecure"], { env: { WASM_FN_CACHE: cache } });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`error WFN_OCI_DIGEST_MISMATCH: blob ${layer}`));
    expect(res.stdout).toBe("");
    expect(existsSync(join(cache, "oci", "images"))).toBe(false);
    expect(digest).toMatch(/^sha256:/);
  });

  it("explains what to do: not built, bad references, plain HTTP without --insecure, unknown tag", async () => {
    const empty = mkdtempSync(join(work, "empty-"));
    expect((await wfn(["push", `${open.host}/x:1`, empty, "--insecure"])).stderr).toMatch(/WFN_OCI_LAYOUT_NOT_BUILT: no image in .*dist\/oci: run 'wasm-fn build/);
    for (const ref of [`${open.host}/Bad:1`, `${open.host}/x:-tag`, `${open.host}/x@sha256:1234`]) {
      const res = await wfn(["push", ref, image.dir, "--insecure"]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/error WFN_REF_INVALID: invalid image reference .*(name|tag|digest) /);
    }
    expect((await wfn(["pull", `${open.host}/hello:0.1.0`])).stderr).toMatch(/WFN_REGISTRY_INSECURE_REQUIRED: .*pass --insecure/);
    expect((await wfn(["pull", `${open.host}/hello:nope`, "--insecure"])).stderr).toMatch(/WFN_REGISTRY_NOT_FOUND/);
  });
});

describe("registry behind htpasswd", () => {
  let locked: RegistryHandle;
  const user = "alice";
  const secret = "pa55-w0rd-never-printed";
  beforeAll(async () => { locked = await startRegistry({ auth: { username: user, password: secret } }); });
  afterAll(async () => { await locked?.stop(); });

  it("refuses anonymous pushes with a login hint, and wrong passwords without storing them", async () => {
    const anon = await wfn(["push", `${locked.host}/hello:1`, image.dir, "--insecure"]);
    expect(anon.stderr).toMatch(/error WFN_REGISTRY_UNAUTHORIZED: .*run 'wasm-fn login 127\.0\.0\.1:\d+' first/);
    const wrong = await wfn(["login", locked.host, "-u", user, "--password-stdin", "--insecure"], { input: "not-it\n", env: { DOCKER_CONFIG: join(work, "docker-wrong") } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/WFN_REGISTRY_UNAUTHORIZED/);
    expect(existsSync(join(work, "docker-wrong", "config.json"))).toBe(false);
  });

  it("login verifies and stores credentials (0600, never echoed); push and pull then work", async () => {
    const env = { DOCKER_CONFIG: join(work, "docker-ok") };
    const login = await wfn(["login", locked.host, "-u", user, "--password-stdin", "--insecure"], { input: `${secret}\n`, env });
    expect(login).toMatchObject({ code: 0, stdout: "Login Succeeded\n" });
    const cfgPath = join(work, "docker-ok", "config.json");
    expect(statSync(cfgPath).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(cfgPath, "utf8")).auths[locked.host].auth).toBe(Buffer.from(`${user}:${secret}`).toString("base64"));
    const push = await wfn(["push", `${locked.host}/team/hello:1`, image.dir, "--insecure"], { env });
    expect(push).toMatchObject({ code: 0, stdout: `${image.digest}\n` });
    const pull = await wfn(["--json", "pull", `${locked.host}/team/hello:1`, "--insecure"], { env: { ...env, WASM_FN_CACHE: join(work, "locked-cache") } });
    expect(readFileSync(JSON.parse(pull.stdout).wasmPath).equals(WASM)).toBe(true);
    for (const r of [login, push, pull]) expect(r.stdout + r.stderr).not.toContain(secret);
  });
});

describe("registry behind token auth (bearer JWTs verified by distribution)", () => {
  let tokenReg: RegistryHandle;
  const secret = "t0ken-secret";
  beforeAll(async () => { tokenReg = await startRegistry({ auth: { username: "bob", password: secret, mode: "token" } }); });
  afterAll(async () => { await tokenReg?.stop(); });

  it("refuses anonymous access, then logs in, pushes and pulls with scoped tokens", async () => {
    const anon = await wfn(["pull", `${tokenReg.host}/team/hello:1`, "--insecure"]);
    expect(anon.stderr).toMatch(/WFN_REGISTRY_UNAUTHORIZED: .*wasm-fn login/);
    const env = { DOCKER_CONFIG: join(work, "docker-token"), WASM_FN_CACHE: join(work, "token-cache") };
    expect((await wfn(["login", tokenReg.host, "-u", "bob", "--password-stdin", "--insecure"], { input: secret, env })).code).toBe(0);
    const push = await wfn(["push", `${tokenReg.host}/team/hello:1`, image.dir, "--insecure"], { env });
    expect(push).toMatchObject({ code: 0, stdout: `${image.digest}\n` });
    expect(tokenReg.tokenRequests).toContain("wasm-fn-test|repository:team/hello:pull,push");
    const pull = await wfn(["--json", "pull", `${tokenReg.host}/team/hello:1`, "--insecure"], { env });
    expect(readFileSync(JSON.parse(pull.stdout).wasmPath).equals(WASM)).toBe(true);
    expect(tokenReg.tokenRequests).toContain("wasm-fn-test|repository:team/hello:pull");
    const mount = await wfn(["push", `${tokenReg.host}/other/hello:1`, image.dir, "--insecure"], { env });
    expect(mount.stderr.match(/mounted from team\/hello/g)).toHaveLength(2);
    expect(tokenReg.tokenRequests).toContain("wasm-fn-test|repository:other/hello:pull,push repository:team/hello:pull");
  });
});
