#!/usr/bin/env node
import { main } from "./program.js";

main(process.argv).then(
  (code) => { if (code !== 0) process.exitCode = code; },
  (err: unknown) => { console.error(err); process.exitCode = 1; },
);
