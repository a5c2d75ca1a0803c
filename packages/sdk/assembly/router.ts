// A small router for a function's own paths: `router.get("/users/:id", getUser)`. Patterns are
// matched segment by segment against `req.path` (the path below the function's route);
// `:name` captures one segment (percent-decoded, read with `req.pathParam("name")`) and a final
// `*` captures the rest (as `pathParam("*")`). Routes are tried in the order they were added.
import { Request, decodeComponent } from "./request";
import { Response } from "./response";

/** A route's handler: a top-level function or an arrow function that captures nothing. */
export type RouteHandler = (req: Request) => Response;

class Route {
  segments: Array<string>;
  constructor(public method: string, pattern: string, public handler: RouteHandler) {
    this.segments = splitPath(pattern);
  }
  /** The captured parameters, or null when the path does not match. */
  match(path: Array<string>): Map<string, string> | null {
    const params = new Map<string, string>();
    const segs = this.segments;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      if (s == "*" && i == segs.length - 1) {
        params.set("*", path.slice(i).join("/"));
        return params;
      }
      if (i >= path.length) return null;
      if (s.startsWith(":")) params.set(s.substring(1), decodeComponent(path[i]));
      else if (s != path[i]) return null;
    }
    return segs.length == path.length ? params : null;
  }
}

function splitPath(p: string): Array<string> {
  const out = new Array<string>();
  const parts = p.split("/");
  for (let i = 0; i < parts.length; i++) if (parts[i].length > 0) out.push(parts[i]);
  return out;
}

/**
 * Routes requests by method and path:
 *
 *   const router = new Router()
 *     .get("/users/:id", getUser)
 *     .post("/users", createUser);
 *   export function handle(req: Request): Response { return router.handle(req); }
 *
 * No route for the path answers 404; a path served for other methods answers 405 with `allow`.
 * HEAD is served by a GET route when no HEAD route matches.
 */
export class Router {
  private routes: Array<Route> = [];

  /** Adds a route for a method ("GET", "POST", ... or "*" for any). */
  on(method: string, pattern: string, handler: RouteHandler): Router {
    this.routes.push(new Route(method.toUpperCase(), pattern, handler));
    return this;
  }
  get(pattern: string, handler: RouteHandler): Router { return this.on("GET", pattern, handler); }
  post(pattern: string, handler: RouteHandler): Router { return this.on("POST", pattern, handler); }
  put(pattern: string, handler: RouteHandler): Router { return this.on("PUT", pattern, handler); }
  patch(pattern: string, handler: RouteHandler): Router { return this.on("PATCH", pattern, handler); }
  /** DELETE (named `del` as `delete` is a keyword). */
  del(pattern: string, handler: RouteHandler): Router { return this.on("DELETE", pattern, handler); }
  /** Any method. */
  all(pattern: string, handler: RouteHandler): Router { return this.on("*", pattern, handler); }

  /** Runs the first matching route's handler. */
  handle(req: Request): Response {
    const path = splitPath(req.path);
    const method = req.method;
    const allowed = new Array<string>();
    let getFallback: Route | null = null;
    let getParams: Map<string, string> | null = null;
    for (let i = 0; i < this.routes.length; i++) {
      const r = this.routes[i];
      const params = r.match(path);
      if (params === null) continue;
      if (r.method == method || r.method == "*") {
        req.routeParams = params;
        return r.handler(req);
      }
      if (method == "HEAD" && r.method == "GET" && getFallback === null) { getFallback = r; getParams = params; }
      if (!allowed.includes(r.method)) allowed.push(r.method);
    }
    if (getFallback !== null) {
      req.routeParams = getParams!;
      return getFallback.handler(req);
    }
    if (allowed.length > 0) {
      return Response.error(405, method + " is not served at " + req.path + "; it answers " + allowed.join(", ")).setHeader("allow", allowed.join(", "));
    }
    return Response.error(404, "nothing is served at " + (req.path.length > 0 ? req.path : "/"));
  }
}
