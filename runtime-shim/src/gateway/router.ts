/**
 * Routes a request to a function, as OpenFunction's Gateway does:
 * - path-based: `/{namespace}/{name}[/rest]`
 * - host-based: `Host: {name}.{namespace}.{domain}` (any path)
 * - custom paths from `triggers.http.route.paths` (prefix match on a segment boundary)
 * - custom hostnames from `triggers.http.route.hostnames`
 */
export interface Routable {
  name: string;
  namespace: string;
  paths: readonly string[];
  hostnames: readonly string[];
}

export interface Match<T> {
  target: T;
  /** The path below the route ("/" at least). */
  rest: string;
}

export class Router<T extends Routable> {
  private byNsName = new Map<string, T>();
  private byHost = new Map<string, T>();
  private prefixes: { prefix: string; target: T }[] = [];

  constructor(private readonly domain: string) {}

  add(t: T): void {
    this.byNsName.set(`${t.namespace}/${t.name}`, t);
    this.byHost.set(`${t.name}.${t.namespace}.${this.domain}`.toLowerCase(), t);
    for (const h of t.hostnames) this.byHost.set(h.toLowerCase(), t);
    for (const p of t.paths) this.prefixes.push({ prefix: p.replace(/\/+$/, "") || "/", target: t });
    // Longest prefix first.
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  remove(t: T): void {
    for (const [k, v] of this.byNsName) if (v === t) this.byNsName.delete(k);
    for (const [k, v] of this.byHost) if (v === t) this.byHost.delete(k);
    this.prefixes = this.prefixes.filter((p) => p.target !== t);
  }

  /**
   * Why `t`'s routes would take traffic from another function, or null. Refused: the same custom path
   * or hostname, a custom path inside or around another's (a nested prefix takes part of its traffic),
   * a custom path that covers another function's `/{namespace}/{name}` or `/`, and a hostname that is
   * another function's (custom or `{name}.{namespace}.{domain}`). `except` is the function being
   * replaced by a hot swap.
   */
  conflict(t: Routable, except?: T): string | null {
    const mine = (p: string) => p.replace(/\/+$/, "") || "/";
    const within = (a: string, b: string) => a === b || a === "/" || b === "/" || b.startsWith(a + "/") || a.startsWith(b + "/");
    const others = [...new Set(this.byNsName.values())].filter((o) => o !== except && !(o.namespace === t.namespace && o.name === t.name));
    for (const o of others) {
      const them = `${o.namespace}/${o.name}`;
      for (const p of t.paths.map(mine)) {
        for (const q of o.paths.map(mine)) if (within(p, q)) return `path ${p} of ${t.namespace}/${t.name} overlaps path ${q} of ${them}`;
        const own = `/${o.namespace}/${o.name}`;
        if (p === "/" || own === p || own.startsWith(p + "/") || p.startsWith(own + "/")) return `path ${p} of ${t.namespace}/${t.name} covers ${them}'s route ${own}`;
      }
      const theirHosts = [`${o.name}.${o.namespace}.${this.domain}`, ...o.hostnames].map((h) => h.toLowerCase());
      const myHosts = [`${t.name}.${t.namespace}.${this.domain}`, ...t.hostnames].map((h) => h.toLowerCase());
      for (const h of myHosts) if (theirHosts.includes(h)) return `hostname ${h} of ${t.namespace}/${t.name} is already ${them}'s`;
    }
    return null;
  }

  /** Replaces a target in place (hot swap): same routes, new object. */
  replace(old: T, next: T): void {
    this.remove(old);
    this.add(next);
  }

  match(host: string | undefined, path: string): Match<T> | undefined {
    if (host) {
      const h = stripPort(host).toLowerCase();
      const t = this.byHost.get(h);
      if (t) return { target: t, rest: path || "/" };
    }
    for (const { prefix, target } of this.prefixes) {
      if (prefix === "/") return { target, rest: path };
      if (path === prefix || path.startsWith(prefix + "/")) return { target, rest: path.slice(prefix.length) || "/" };
    }
    // /{namespace}/{name}[/rest]
    const a = path.indexOf("/", 1);
    if (a < 0) return undefined;
    const b = path.indexOf("/", a + 1);
    const key = path.slice(1, b < 0 ? undefined : b);
    const t = this.byNsName.get(key);
    return t ? { target: t, rest: b < 0 ? "/" : path.slice(b) } : undefined;
  }

  /** Every route, for the start banner and 404 hints. */
  routes(): { target: T; path: string; host: string }[] {
    const out: { target: T; path: string; host: string }[] = [];
    for (const t of new Set(this.byNsName.values())) out.push({ target: t, path: `/${t.namespace}/${t.name}`, host: `${t.name}.${t.namespace}.${this.domain}` });
    return out;
  }
}

function stripPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const i = host.lastIndexOf(":");
  return i < 0 ? host : host.slice(0, i);
}
