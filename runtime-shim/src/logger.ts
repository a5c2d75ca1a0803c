/** Structured JSON logs, one object a line: {time, level, msg, ...fields}. */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(opts: { level?: Level; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const base = opts.base ?? {};
  return {
    log(level, msg, fields) {
      if (ORDER[level] < min) return;
      write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }) + "\n");
    },
    child(fields) {
      return createLogger({ ...opts, base: { ...base, ...fields } });
    },
  };
}

export const silentLogger: Logger = { log() {}, child() { return silentLogger; } };
