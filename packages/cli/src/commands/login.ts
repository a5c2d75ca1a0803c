import { WfnError } from "@wasm-fn/abi";
import { print } from "../output.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // Only the line ending goes: `echo $TOKEN |` adds one, but a secret may hold other spaces.
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** Reads a line from the terminal; with `hidden`, nothing typed is echoed. */
function prompt(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let value = "";
    const done = (err?: Error): void => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err); else resolve(value);
    };
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        // Ctrl-C, or Ctrl-D (raw mode turns it into a character rather than end of input).
        if (ch === "\u0003" || ch === "\u0004") return done(new WfnError("WFN_USAGE", "login cancelled"));
        if (ch === "\u007f" || ch === "\b") { value = value.slice(0, -1); continue; }
        value += ch;
        if (!hidden) process.stderr.write(ch);
      }
    };
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** `wasm-fn login <registry> -u <user> --password-stdin`: verifies against /v2/, then stores in docker config. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const json = Boolean(global.json);
  const registry = String(args[0]);
  const tty = Boolean(process.stdin.isTTY);
  let username = typeof opts.username === "string" ? opts.username : "";
  if (!username && tty && !opts.passwordStdin) username = await prompt("Username: ", false);
  if (!username) throw new WfnError("WFN_CREDENTIALS_MISSING", "no user name: pass -u <user>");
  let password: string;
  if (opts.passwordStdin) password = await readStdin();
  else if (tty) password = await prompt("Password: ", true);
  else throw new WfnError("WFN_CREDENTIALS_MISSING", "stdin is not a terminal: pipe the password or token with --password-stdin (e.g. echo \"$TOKEN\" | wasm-fn login ghcr.io -u me --password-stdin)");
  const { login } = await import("@wasm-fn/oci");
  const result = await login(registry, username, password, { insecure: Boolean(opts.insecure) });
  if (!json) process.stderr.write(`credentials for ${result.registry} stored in ${result.configPath} (base64, not encrypted; file mode 0600)\n`);
  print(json, { registry: result.registry, username, configPath: result.configPath }, () => "Login Succeeded");
  return 0;
}
