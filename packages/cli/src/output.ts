/** Progress lines go to stderr (never into `--json` stdout). */
export function progress(json: boolean, step: string): void {
  if (!json) process.stderr.write(`  ${step}...\n`);
}

/** One result: JSON on stdout with --json, else the human text. */
export function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value) + "\n" : human() + "\n");
}
