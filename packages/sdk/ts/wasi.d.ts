// The part of wasi:http/types@0.2.10 the adapter (serve.ts) uses, as componentize-js binds it
// inside the component. Not for function code: handlers see Web Request and Response.
declare module "wasi:http/types@0.2.10" {
  type Method = { tag: "get" | "head" | "post" | "put" | "delete" | "connect" | "options" | "trace" | "patch" } | { tag: "other"; val: string };
  export class Fields {
    static fromList(entries: [string, Uint8Array][]): Fields;
    entries(): [string, Uint8Array][];
  }
  export class InputStream {
    blockingRead(len: bigint): Uint8Array;
  }
  export class OutputStream {
    blockingWriteAndFlush(contents: Uint8Array): void;
  }
  export class IncomingBody {
    stream(): InputStream;
    static finish(body: IncomingBody): unknown;
  }
  export class IncomingRequest {
    method(): Method;
    pathWithQuery(): string | undefined;
    authority(): string | undefined;
    headers(): Fields;
    consume(): IncomingBody;
  }
  export class OutgoingBody {
    write(): OutputStream;
    static finish(body: OutgoingBody, trailers: Fields | undefined): void;
  }
  export class OutgoingResponse {
    constructor(headers: Fields);
    setStatusCode(status: number): void;
    body(): OutgoingBody;
  }
  export class ResponseOutparam {
    static set(param: ResponseOutparam, response: { tag: "ok"; val: OutgoingResponse } | { tag: "err"; val: { tag: "internal-error"; val?: string } }): void;
  }
}
