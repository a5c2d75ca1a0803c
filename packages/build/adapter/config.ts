// The function's config, written by `wasm-fn build` into the glue module as a byte-string list of
// key/value pairs (see packages/build/src/wasmedge.ts: adapterConfig).
import { config_len, config_copy } from "./glue";
import { readList, str, utf8 } from "./mem";

export class Output {
  /** metadata: the encoded k,v byte-string list, as capability calls take it. */
  constructor(public pubsub: bool, public name: string, public target: string, public metadata: Uint8Array) {}
}
export class Topic {
  constructor(public route: string, public pubsub: string, public topic: string) {}
}

export let fnName = "function";
export let fnNamespace = "default";
export let fnLabel = "default/function";
export let timeoutMs: i64 = 10000;
export let requestBytes: i64 = 1 << 20;
export let responseBytes: i64 = 8 << 20;
export let paths = new Array<string>();
export let hosts = new Array<string>();
export let subscribeJson = utf8("[]");
export let topics = new Array<Topic>();
export let bindings = new Array<string>();
export let outputs = new Array<Output>();
/** Grants (FunctionConfig.permissions): the names each capability may reach; anything else is DENIED. */
export let grantStates = new Array<string>();
export let grantPublish = new Array<string>();
export let grantBindings = new Array<string>();
export let grantSecrets = new Array<string>();
export let grantConfiguration = new Array<string>();
export let grantInvoke = new Array<string>();

function list(b: Uint8Array): Array<Uint8Array> {
  const l = readList(b.dataStart, b.length);
  return l !== null ? l : new Array<Uint8Array>();
}

function strings(v: Uint8Array, into: Array<string>): void {
  const l = list(v);
  for (let j = 0; j < l.length; j++) into.push(str(l[j]));
}

export function loadConfig(): void {
  const n = <i32>config_len();
  const raw = new Uint8Array(n);
  if (n > 0) config_copy(raw.dataStart);
  const items = list(raw);
  for (let i = 0; i + 1 < items.length; i += 2) {
    const k = str(items[i]);
    const v = items[i + 1];
    if (k == "name") fnName = str(v);
    else if (k == "namespace") fnNamespace = str(v);
    else if (k == "timeoutMs") timeoutMs = I64.parseInt(str(v));
    else if (k == "requestBytes") requestBytes = I64.parseInt(str(v));
    else if (k == "responseBytes") responseBytes = I64.parseInt(str(v));
    else if (k == "paths") { const l = list(v); for (let j = 0; j < l.length; j++) paths.push(str(l[j])); }
    else if (k == "hosts") { const l = list(v); for (let j = 0; j < l.length; j++) hosts.push(str(l[j]).toLowerCase()); }
    else if (k == "subscribe") subscribeJson = v;
    else if (k == "topics") { const l = list(v); for (let j = 0; j + 2 < l.length; j += 3) topics.push(new Topic(str(l[j]), str(l[j + 1]), str(l[j + 2]))); }
    else if (k == "bindings") { const l = list(v); for (let j = 0; j < l.length; j++) bindings.push(str(l[j])); }
    else if (k == "grant.states") strings(v, grantStates);
    else if (k == "grant.publish") strings(v, grantPublish);
    else if (k == "grant.bindings") strings(v, grantBindings);
    else if (k == "grant.secrets") strings(v, grantSecrets);
    else if (k == "grant.configuration") strings(v, grantConfiguration);
    else if (k == "grant.invoke") strings(v, grantInvoke);
    else if (k == "outputs") {
      const l = list(v);
      for (let j = 0; j + 3 < l.length; j += 4) outputs.push(new Output(str(l[j]) == "pubsub", str(l[j + 1]), str(l[j + 2]), l[j + 3]));
    }
  }
  fnLabel = fnNamespace + "/" + fnName;
}
