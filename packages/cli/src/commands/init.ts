import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import { print } from "../output.js";
import { LANG_NAMES, TEMPLATES, templateList, type Lang } from "../templates/index.js";

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * `wasm-fn init <dir> [--template http|state|pubsub|binding|c] [--lang as|c|ts|js] [--trigger http|event]`:
 * a project (function, wasm-fn.yaml, package.json, a test, a README) that builds, runs and passes its test as generated.
 */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const dir = path.resolve(String(args[0]));
  const templateName = String(opts.template ?? (opts.lang === "c" ? "c" : "http"));
  const template = Object.hasOwn(TEMPLATES, templateName) ? TEMPLATES[templateName] : undefined;
  if (!template) throw new WfnError("WFN_USAGE", `there is no template '${templateName}'; pass --template with one of these (the name before the colon): ${templateList()}`);
  const lang = String(opts.lang ?? template.langs[0]);
  if (!(lang in LANG_NAMES)) throw new WfnError("WFN_USAGE", `--lang must be 'as' (AssemblyScript), 'c', 'ts' (TypeScript) or 'js' (JavaScript), got '${lang}'`);
  if (!template.langs.includes(lang as Lang)) {
    throw new WfnError("WFN_USAGE", `the ${templateName} template is written in ${template.langs.map((l) => `${LANG_NAMES[l]} (--lang ${l})`).join(" or ")}, not ${LANG_NAMES[lang as Lang]}; drop --lang, or use --template http for ${LANG_NAMES[lang as Lang]}`);
  }
  const trigger = String(opts.trigger ?? "http");
  if (trigger !== "http" && trigger !== "event") throw new WfnError("WFN_USAGE", `--trigger must be 'http' or 'event', got '${trigger}'`);
  if (trigger === "event" && !template.triggers) throw new WfnError("WFN_USAGE", `--trigger applies to the http and c templates; the ${templateName} template chooses its own inputs (drop --trigger)`);
  const name = String(opts.name ?? path.basename(dir)).toLowerCase();
  if (!NAME.test(name)) throw new WfnError("WFN_USAGE", `'${name}' is not a valid function name (lower-case letters, digits and '-'); pass --name`);
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0) throw new WfnError("WFN_INIT_NOT_EMPTY", `${dir} is not empty; choose a new directory so nothing is overwritten`);

  const files = template.files({ name, lang: lang as Lang, trigger });
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text, { flag: "wx" });
  }
  const shown = path.relative(process.cwd(), dir) || ".";
  print(Boolean(global.json), { dir, name, template: templateName, lang, trigger, files: Object.keys(files) }, () =>
    `created ${name} (${templateName} template, ${LANG_NAMES[lang as Lang]}${template.triggers ? `, ${trigger} trigger` : ""}) in ${shown}\n` +
    `next: wasm-fn build ${shown} && wasm-fn run ${shown}${template.resources ? ` --resources-path ${path.join(shown, template.resources)}` : ""}\n` +
    `  (README.md says what to try; npm test in ${shown} builds it and runs its test)`);
  return 0;
}
