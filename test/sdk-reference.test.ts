/**
 * docs/sdk.md cannot drift from the AssemblyScript SDK (issue 13, point 1): every exported class,
 * namespace, function, method, property and constant is a row of the page, every row is in the
 * SDK, and each section's example uses each of its members (the examples themselves are compiled
 * by test/doc-snippets.test.ts).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "./harness/cli.js";

const SDK = path.join(ROOT, "packages/sdk/assembly");
const TOP = "(top level)";

/** owner ("Request", "JSON.Obj", "state", TOP) -> its public member names. */
async function sdkSurface(): Promise<Map<string, Set<string>>> {
  const index = await readFile(path.join(SDK, "index.ts"), "utf8");
  const surface = new Map<string, Set<string>>();
  const add = (owner: string, m: string) => { if (!surface.has(owner)) surface.set(owner, new Set()); surface.get(owner)!.add(m); };
  const isPublic = (n: ts.Node) => !(ts.getCombinedModifierFlags(n as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));
  const classMembers = (owner: string, c: ts.ClassDeclaration) => {
    add(owner, "constructor");
    for (const m of c.members) {
      if (!isPublic(m)) continue;
      if (ts.isConstructorDeclaration(m)) {
        for (const p of m.parameters) if (p.modifiers?.some((x) => x.kind === ts.SyntaxKind.PublicKeyword)) add(owner, p.name.getText());
      } else if (m.name) add(owner, m.name.getText());
    }
  };
  for (const m of index.matchAll(/export \{([^}]+)\} from "\.\/(\w+)"/g)) {
    const file = m[2]!;
    const sf = ts.createSourceFile(file, await readFile(path.join(SDK, `${file}.ts`), "utf8"), ts.ScriptTarget.Latest, true);
    for (const name of m[1]!.split(",").map((s) => s.trim()).filter(Boolean)) {
      const decl = sf.statements.find((s) => (ts.isClassDeclaration(s) || ts.isModuleDeclaration(s) || ts.isFunctionDeclaration(s) || ts.isTypeAliasDeclaration(s)) && s.name?.getText() === name);
      if (!decl) throw new Error(`index.ts exports ${name} from ${file}.ts, which does not declare it`);
      if (ts.isClassDeclaration(decl)) classMembers(name, decl);
      else if (ts.isModuleDeclaration(decl)) {
        for (const s of (decl.body as ts.ModuleBlock).statements) {
          if (!(ts.getCombinedModifierFlags(s as ts.Declaration) & ts.ModifierFlags.Export)) continue;
          if (ts.isFunctionDeclaration(s)) add(name, s.name!.text);
          else if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) add(name, d.name.getText());
          else if (ts.isClassDeclaration(s)) classMembers(`${name}.${s.name!.text}`, s);
        }
      } else add(TOP, name);
    }
  }
  return surface;
}

interface Section { title: string; owners: string[]; rows: string[]; code: string }

async function pageSections(): Promise<Section[]> {
  const text = await readFile(path.join(ROOT, "docs/sdk.md"), "utf8");
  const out: Section[] = [];
  for (const part of text.split(/^### /m).slice(1)) {
    const title = part.slice(0, part.indexOf("\n")).trim();
    const owners = title === "Functions and types" ? [TOP] : title.split(/,| and /).map((s) => s.trim()).filter(Boolean);
    const rows: string[] = [];
    for (const line of part.split("\n")) {
      if (!line.startsWith("| `")) continue;
      const cell = line.split("|")[1]!;
      for (const m of cell.matchAll(/`([^`]+)`/g)) rows.push(m[1]!.replace(/^static /, "").split("(")[0]!.trim());
    }
    const code = [...part.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).join("\n");
    out.push({ title, owners, rows, code });
  }
  return out;
}

/**
 * The page's rows as owner -> members: `X.m` rows belong to X; the others to the section's first
 * owner when other owners have `X.m` rows ("bindings and BindingResponse"), else to every owner
 * ("JSON.Str, JSON.Num, JSON.Bool, JSON.Null").
 */
function documented(sections: Section[]): Map<string, Set<string>> {
  const doc = new Map<string, Set<string>>();
  const add = (o: string, m: string) => { if (!doc.has(o)) doc.set(o, new Set()); doc.get(o)!.add(m); };
  const dotted = (s: Section, r: string) => r.lastIndexOf(".") > 0 && !s.owners.includes(r);
  for (const s of sections) {
    const plainOwners = s.rows.some((r) => dotted(s, r)) ? s.owners.slice(0, 1) : s.owners;
    for (const r of s.rows) {
      if (dotted(s, r)) add(r.slice(0, r.lastIndexOf(".")), r.slice(r.lastIndexOf(".") + 1));
      else for (const o of plainOwners) add(o, r);
    }
  }
  return doc;
}

describe("docs/sdk.md", () => {
  it("lists every export of the SDK and nothing else", async () => {
    const sdk = await sdkSurface();
    const doc = documented(await pageSections());
    const missing: string[] = [];
    const extra: string[] = [];
    for (const [owner, members] of sdk) for (const m of members) if (!doc.get(owner)?.has(m)) missing.push(`${owner}.${m}`);
    for (const [owner, members] of doc) {
      for (const m of members) {
        // A multi-class section (JSON.Str, JSON.Num, JSON.Bool, JSON.Null) lists `value`, which Null lacks.
        if (!sdk.get(owner)?.has(m) && !(owner === "JSON.Null" && m === "value")) extra.push(`${owner}.${m}`);
      }
    }
    expect(missing, "exported by the SDK, missing from docs/sdk.md").toEqual([]);
    expect(extra, "in docs/sdk.md, not exported by the SDK").toEqual([]);
    expect(sdk.size).toBeGreaterThan(20);
  });

  it("has an example that uses each member of each section", async () => {
    const unused: string[] = [];
    for (const s of await pageSections()) {
      expect(s.code, `### ${s.title} has no ts example`).not.toBe("");
      for (const r of s.rows) {
        const m = r.includes(".") && !s.owners.includes(r) ? r.slice(r.lastIndexOf(".") + 1) : r;
        const owner = r.includes(".") && !s.owners.includes(r) ? r.slice(0, r.lastIndexOf(".")) : s.owners[0]!;
        const used = m === "constructor"
          ? new RegExp(`new (JSON\\.)?${(owner.split(".").pop() ?? "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(s.code) || /new JSON\.\w+/.test(s.code)
          : new RegExp(`(\\.|\\b)${m}\\b`).test(s.code);
        if (!used) unused.push(`### ${s.title}: ${r}`);
      }
    }
    expect(unused).toEqual([]);
  });
});
