import type { IncomingHttpHeaders } from "node:http";
import type { Credentials } from "../auth/docker-config.js";
import { parseWwwAuthenticate, type Challenge } from "../auth/www-authenticate.js";
import { OciErrorCode, ociError } from "../errors.js";
import { readBody, type Http } from "./http.js";

interface Token { value: string; expiresAt: number }

/** `repository:<repo>:<actions>`, the scope syntax of the distribution token spec. */
export function repoScope(repository: string, actions: "pull" | "pull,push"): string {
  return `repository:${repository}:${actions}`;
}

/**
 * Turns a registry's 401 challenges into Authorization headers: basic auth, or a bearer token
 * fetched from the challenge's realm for the scopes a request needs (cached per scope set).
 * Credentials are loaded lazily, once, and never appear in errors.
 */
export class Authorizer {
  private challenge: Challenge | undefined;
  private tokens = new Map<string, Token>();
  private creds: Credentials | undefined | null = null; // null: not loaded yet

  constructor(
    private readonly registry: string,
    private readonly http: Http,
    private readonly loadCredentials: () => Promise<Credentials | undefined>,
    private readonly allowPlainRealm: boolean,
  ) {}

  private async credentials(): Promise<Credentials | undefined> {
    if (this.creds === null) this.creds = await this.loadCredentials();
    return this.creds;
  }

  /** True once credentials were found (used to word the 401 hint). */
  get hasCredentials(): boolean {
    return this.creds !== null && this.creds !== undefined;
  }

  /** The Authorization header to send for these scopes, or undefined before any challenge. */
  async header(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === "basic") {
      const c = await this.credentials();
      return c && "username" in c ? "Basic " + Buffer.from(`${c.username}:${c.password}`).toString("base64") : undefined;
    }
    const key = [...new Set(scopes)].sort().join(" ");
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(scopes);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  /**
   * Learns from a 401 and returns the scopes to retry with, or undefined when a retry would
   * fail the same way (basic auth already sent, or no credentials to send). No network here:
   * a token is fetched when the retry asks for its header.
   */
  async learn(headers: IncomingHttpHeaders, scopes: string[], tried: string | undefined): Promise<string[] | undefined> {
    const challenges = parseWwwAuthenticate(headers["www-authenticate"]);
    const ch = challenges.find((c) => c.scheme === "bearer" && c.params.realm) ?? challenges.find((c) => c.scheme === "basic");
    if (!ch) return undefined;
    this.challenge = ch;
    if (ch.scheme === "basic") {
      const c = await this.credentials();
      return tried === undefined && c && "username" in c ? scopes : undefined;
    }
    // The registry may name a scope we did not ask for (insufficient_scope): ask for both.
    const wanted = [...new Set([...scopes, ...(ch.params.scope ?? "").split(" ").filter(Boolean)])];
    if (tried !== undefined && wanted.length === scopes.length) {
      // Our token was refused as it was: drop it (it may have expired) and try one fresh one.
      this.tokens.delete([...new Set(scopes)].sort().join(" "));
    }
    return wanted;
  }

  private async fetchToken(scopes: string[]): Promise<Token> {
    const ch = this.challenge!;
    const realm = new URL(ch.params.realm!);
    if (realm.protocol !== "https:" && !(realm.protocol === "http:" && this.allowPlainRealm)) {
      throw ociError(OciErrorCode.REGISTRY_INSECURE_REQUIRED, `${this.registry} sends credentials to a plain-HTTP token service (${realm.origin}); pass --insecure only if you trust it`);
    }
    if (ch.params.service) realm.searchParams.set("service", ch.params.service);
    for (const s of new Set(scopes)) realm.searchParams.append("scope", s);
    const creds = await this.credentials();
    const headers: Record<string, string> = {};
    if (creds && "username" in creds) headers.authorization = "Basic " + Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
    const res = creds && "identityToken" in creds
      ? await this.http.send({ method: "POST", url: realm.origin + realm.pathname, headers: { "content-type": "application/x-www-form-urlencoded" }, body: oauthForm(creds.identityToken, ch, scopes), idempotent: true })
      : await this.http.send({ method: "GET", url: realm.toString(), headers, idempotent: true });
    const text = (await readBody(res, 1 << 20, `token answer from ${realm.origin}`)).toString("utf8");
    if (res.status === 401 || res.status === 403) {
      throw ociError(OciErrorCode.REGISTRY_UNAUTHORIZED, `${this.registry}: the token service refused ${creds ? "the stored credentials" : "anonymous access"} (HTTP ${res.status}); run 'wasm-fn login ${this.registry}'`, { status: 401 });
    }
    let body: { token?: string; access_token?: string; expires_in?: number } = {};
    try { body = JSON.parse(text) as typeof body; } catch { /* handled below */ }
    const value = body.token ?? body.access_token;
    if (res.status !== 200 || !value) {
      throw ociError(OciErrorCode.REGISTRY_UNEXPECTED, `${this.registry}: the token service at ${realm.origin} answered HTTP ${res.status} without a token; try again later`, { status: 502 });
    }
    // Renew a little early so a token does not expire between two requests of one push.
    return { value, expiresAt: Date.now() + Math.max(10, (body.expires_in ?? 60) - 5) * 1000 };
  }
}

function oauthForm(refreshToken: string, ch: Challenge, scopes: string[]): Buffer {
  const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: "wasm-fn", service: ch.params.service ?? "" });
  form.set("scope", [...new Set(scopes)].join(" "));
  return Buffer.from(form.toString());
}
