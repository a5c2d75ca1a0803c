// @wasm-fn/sdk: write a function as `export function handle(req: Request): Response`.
//
//   import { Request, Response } from "@wasm-fn/sdk";
//   export function handle(req: Request): Response {
//     return Response.text("hello " + req.paramOr("name", "world"));
//   }
export { Request, Event, decodeComponent } from "./request";
export { Router, RouteHandler } from "./router";
export { Response, codeForStatus } from "./response";
export { JSON } from "./json";
export { log } from "./log";
export { Result, errorName } from "./host";
export { ErrorCode, Outcome } from "./abi";
export { utf8, str } from "./bytes";
export { state, StateItem, StateOp, pubsub, bindings, BindingResponse, invoke, InvokeResponse, secrets, config, ConfigItem, http, FetchResponse } from "./capabilities";
