import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "../logger.js";
import { startServing } from "./dapr-serve.js";

describe("startServing", () => {
  it("closes the backend (and would stop daprd) even when draining the shim fails", async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-serve-")), "state.json");
    const s = await startServing({ functions: [], port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: file } });
    const realClose = s.shim.close.bind(s.shim);
    s.shim.close = async () => { await realClose(); throw new Error("drain failed"); };
    const backendClose = vi.spyOn(s.backend, "close");
    await expect(s.close()).rejects.toThrow("drain failed");
    expect(backendClose).toHaveBeenCalledOnce();
  });
});
