import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { OciErrorCode, ociError } from "./errors.js";

/** One entry to write. Owners, names and times are fixed by the writer so output is reproducible. */
export interface TarInput {
  name: string;
  type: "file" | "directory";
  data?: Uint8Array;
  mode?: number;
}

/** One entry read back. Links keep their target so callers can refuse the ones that escape. */
export interface TarEntry {
  name: string;
  type: string;
  mode: number;
  linkname: string | null;
  data: Buffer;
}

const BLOCK = 512;

function octal(buf: Buffer, value: number, offset: number, width: number): void {
  buf.write(value.toString(8).padStart(width - 1, "0") + "\0", offset, width, "ascii");
}

/** Splits a long path into ustar prefix + name (both must fit: 155 + 100 bytes). */
function splitName(name: string): [string, string] {
  if (Buffer.byteLength(name) <= 100) return ["", name];
  for (let i = name.indexOf("/"); i >= 0; i = name.indexOf("/", i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return [prefix, rest];
  }
  throw ociError(OciErrorCode.IMAGE_INVALID, `tar entry name too long for ustar: ${name.slice(0, 120)}...`);
}

function header(entry: TarInput, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(entry.type === "directory" && !entry.name.endsWith("/") ? entry.name + "/" : entry.name);
  h.write(name, 0, 100, "utf8");
  octal(h, entry.mode ?? (entry.type === "directory" ? 0o755 : 0o644), 100, 8);
  octal(h, 0, 108, 8); // uid 0
  octal(h, 0, 116, 8); // gid 0
  octal(h, size, 124, 12);
  octal(h, mtime, 136, 12);
  h.write(" ".repeat(8), 148, 8, "ascii"); // checksum is computed with this field as spaces
  h.write(entry.type === "directory" ? "5" : "0", 156, 1, "ascii");
  h.write("ustar\0" + "00", 257, 8, "ascii"); // POSIX ustar; uname/gname stay empty
  octal(h, 0, 329, 8);
  octal(h, 0, 337, 8);
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

/**
 * A reproducible ustar archive: entries sorted by name, uid/gid 0, no user names, one mtime.
 * @example writeTar([{ name: "hello.wasm", type: "file", data: bytes, mode: 0o755 }]) // Buffer
 */
export function writeTar(entries: TarInput[], mtime = 0): Buffer {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts: Buffer[] = [];
  for (const e of sorted) {
    const data = e.type === "file" ? Buffer.from(e.data ?? new Uint8Array()) : Buffer.alloc(0);
    parts.push(header(e, data.length, mtime), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/**
 * Reads every entry of a tar (ustar, pax and GNU long names via tar-stream), refusing archives
 * over `maxBytes` of content and corrupt headers with WFN_OCI_ARCHIVE_INVALID.
 * @example for await (const e of readTar(fs.createReadStream("x.tar"))) console.log(e.name)
 */
export async function* readTar(source: Readable | Uint8Array, maxBytes = 1 << 30): AsyncGenerator<TarEntry> {
  const input = source instanceof Uint8Array ? Readable.from([Buffer.from(source)]) : source;
  const extract = tarStream.extract();
  input.on("error", (e) => extract.destroy(e));
  input.pipe(extract);
  let total = 0;
  try {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw ociError(OciErrorCode.ARCHIVE_INVALID, `archive content exceeds ${maxBytes} bytes; refusing to read it`);
        chunks.push(chunk as Buffer);
      }
      const h = entry.header;
      yield { name: h.name, type: h.type ?? "file", mode: h.mode ?? 0, linkname: h.linkname ?? null, data: Buffer.concat(chunks) };
    }
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith("WFN_")) throw e;
    throw ociError(OciErrorCode.ARCHIVE_INVALID, `not a readable tar archive (${(e as Error).message}); rebuild it with 'wasm-fn build --tar'`, { cause: e });
  } finally {
    input.unpipe(extract);
    extract.destroy();
    if (!(source instanceof Uint8Array)) (source as Readable).destroy();
  }
}
