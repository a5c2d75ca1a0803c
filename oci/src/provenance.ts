import { execFile } from "node:child_process";
import { OciErrorCode, ociError } from "./errors.js";

/** Where and when an image was built, as far as it can be told reproducibly. */
export interface Provenance {
  /** RFC 3339, second precision, for `org.opencontainers.image.created` and the config. */
  created: string;
  /** mtime of every tar entry: SOURCE_DATE_EPOCH when set, else 0 (so unchanged modules keep their layer digest across commits). */
  mtime: number;
  source?: string;
  revision?: string;
}

function git(args: string[], cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd, timeout: 5000, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } }, (err, stdout) => {
      resolve(err ? undefined : stdout.trim() || undefined);
    });
  });
}

/** A remote URL may embed a token (https://user:token@host/...): never put that in an image. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1");
}

function epochFromEnv(): number | undefined {
  const raw = process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d+$/.test(raw)) {
    throw ociError(OciErrorCode.IMAGE_INVALID, `SOURCE_DATE_EPOCH='${raw.slice(0, 40)}' is not a whole number of seconds since 1970; unset it or set e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)`);
  }
  return Number(raw);
}

function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Works out `created`, `source` and `revision` so the same inputs give the same image.
 *
 * `created` is, in order: SOURCE_DATE_EPOCH (reproducible-builds.org) when set; else the time
 * of the last git commit touching `sourceDir`; else 1970-01-01T00:00:00Z. The wall clock is
 * never used: it would change every digest on every build. Outside git, source and revision
 * are left out rather than guessed.
 * @example await provenance("examples/hello") // { created: "2024-05-01T10:00:00Z", mtime: 0, source: "https://github.com/me/fns", revision: "3f2a..." }
 */
export async function provenance(sourceDir?: string): Promise<Provenance> {
  const envEpoch = epochFromEnv();
  let created = envEpoch;
  let source: string | undefined;
  let revision: string | undefined;
  if (sourceDir) {
    const [ct, origin, head] = await Promise.all([
      envEpoch === undefined ? git(["log", "-1", "--format=%ct", "--", "."], sourceDir) : Promise.resolve(undefined),
      git(["remote", "get-url", "origin"], sourceDir),
      git(["rev-parse", "HEAD"], sourceDir),
    ]);
    if (created === undefined && ct && /^\d+$/.test(ct)) created = Number(ct);
    if (origin) source = redactUrl(origin);
    if (head && /^[0-9a-f]{40,64}$/.test(head)) revision = head;
  }
  const out: Provenance = { created: rfc3339(created ?? 0), mtime: envEpoch ?? 0 };
  if (source) out.source = source;
  if (revision) out.revision = revision;
  return out;
}
