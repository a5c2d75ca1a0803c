// Structured logging through the host: each line lands in the shim's JSON log with the request id.
import { log as hostLog, LogLevel } from "./abi";
import { utf8 } from "./bytes";

function emit(level: i32, msg: string): void {
  const b = utf8(msg);
  hostLog(level, b.dataStart, b.length);
}

export namespace log {
  export function debug(msg: string): void { emit(LogLevel.DEBUG, msg); }
  export function info(msg: string): void { emit(LogLevel.INFO, msg); }
  export function warn(msg: string): void { emit(LogLevel.WARN, msg); }
  export function error(msg: string): void { emit(LogLevel.ERROR, msg); }
}
