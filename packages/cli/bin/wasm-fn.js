#!/usr/bin/env node
// Stable entry for the `wasm-fn` bin: npm links it at install time, before `tsc -b` has built dist/.
import("../dist/bin.js").catch((err) => {
  if (err && err.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/bin.js")) {
    console.error("error WFN_NOT_BUILT: wasm-fn is not compiled yet; run `npm run build` (or `npm start`) in the repository first");
    process.exit(1);
  }
  throw err;
});
