import { existsSync } from "node:fs";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import { CONFIG_FILE } from "@wasm-fn/build";
import { print } from "../output.js";
import type { InspectResult } from "@wasm-fn/oci";

function human(r: InspectResult, size: (n: number) => string): string {
  const cfg = r.config.content as { architecture?: string; os?: string; config?: { Entrypoint?: string[] }; component?: { target?: string; exports?: string[]; imports?: string[] } };
  const lines = [
    `${r.target} (${r.source})`,
    `digest      ${r.digest}`,
    `media type  ${r.mediaType}${r.artifactType ? ` (artifact ${r.artifactType})` : ""}`,
    `platform    ${cfg.os ?? "?"}/${cfg.architecture ?? "?"}`,
  ];
  if (cfg.config?.Entrypoint) lines.push(`entrypoint  ${cfg.config.Entrypoint.join(" ")}`);
  if (cfg.component) {
    lines.push(`component   ${cfg.component.target ?? "(no world the shim serves)"}`);
    lines.push(`  exports   ${(cfg.component.exports ?? []).join(", ") || "-"}`);
    lines.push(`  imports   ${(cfg.component.imports ?? []).join(", ") || "-"}`);
  } else if (r.layers.some((l) => l.mediaType === "application/wasm") || cfg.config?.Entrypoint) {
    lines.push("module      a core module (the wasm-fn ABI)");
  }
  lines.push(`size        ${size(r.totalSize)} (manifest ${size(r.size)})`);
  lines.push(`config      ${r.config.mediaType} ${r.config.digest} (${size(r.config.size)})`);
  lines.push("layers");
  for (const l of r.layers) lines.push(`  ${l.mediaType} ${l.digest} (${size(l.size)})`);
  const ann = Object.entries(r.annotations).sort(([a], [b]) => a.localeCompare(b));
  if (ann.length) lines.push("annotations", ...ann.map(([k, v]) => `  ${k}: ${v}`));
  return lines.join("\n");
}

/** `wasm-fn inspect <ref|layout-dir|x.oci.tar>`: manifest, config, annotations and layers (`--json`: all of it). */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const { inspectImage, humanSize } = await import("@wasm-fn/oci");
  let target = String(args[0]);
  // A function's directory: its built image, and the output says so.
  let lookedAt: string | undefined;
  if (existsSync(path.join(target, CONFIG_FILE)) && !existsSync(path.join(target, "oci-layout"))) {
    const layout = path.join(target, "dist", "oci");
    if (!existsSync(path.join(layout, "oci-layout"))) {
      throw new WfnError("WFN_NOT_BUILT", `${target} is a function directory without an image (no ${layout}): build it with \`wasm-fn build ${target}\` (not --no-image)`);
    }
    lookedAt = `${layout} (the image of the function in ${target})`;
    target = layout;
  }
  const result = await inspectImage(target, { insecure: Boolean(opts.insecure) });
  print(Boolean(global.json), lookedAt ? { ...result, lookedAt } : result, () => (lookedAt ? `looked at ${lookedAt}\n` : "") + human(result, humanSize));
  return 0;
}
