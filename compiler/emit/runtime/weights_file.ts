/**
 * `--split` modules: their weights file (OUT.wasm, `WEIGHTS_FILE`). The file is a WASM module
 * with no code: a fixed head (the preamble, a "ggufc.weights" custom section holding the
 * weights' sha256, the memory, its export, the data section's header) followed by the weights,
 * which are the file's last `WEIGHT_BYTES` bytes (the data segment that lays them at
 * `WEIGHTS_AT`).
 *
 * - Fetched (browsers, http URLs, a Response): compiled while it downloads
 *   (`WebAssembly.compileStreaming`) and instantiated: a fresh memory with the weights in place.
 * - From disk (Deno, Node) or from bytes: the head is checked byte for byte against `WEIGHTS_HEAD`
 *   and only the tail is read into a new memory, one pass over the weights instead of three
 *   (read, compile, instantiate each touch all of them; BENCHMARKS.md, Cold start).
 *
 * Either way the kernels import the memory.
 *
 * @module
 */
import {
  MEMORY_PAGES,
  WEIGHT_BYTES,
  WEIGHTS_AT,
  WEIGHTS_FILE,
  WEIGHTS_HEAD,
  WEIGHTS_ID,
} from "./generated.ts";
import { fromBase64 } from "./from_base64.ts";
import type { WeightsSource } from "./types.ts";

/** A weights file ready to instantiate; structured-cloneable, so the pool posts it to workers. */
type WeightsFile =
  | { readonly kind: "module"; readonly module: WebAssembly.Module }
  | { readonly kind: "file"; readonly url: string }
  | { readonly kind: "bytes"; readonly bytes: Uint8Array };

/**
 * A local file, read synchronously: a cold start reads one file once, and synchronous reads skip
 * starting the runtime's I/O thread pool (Deno's and Node's first asynchronous file operation
 * costs milliseconds).
 */
interface LocalFile {
  readonly size: number;
  /** Reads up to `into.length` bytes at `position`; returns how many (0 at the end). */
  readAt(into: Uint8Array, position: number): number;
  close(): void;
}

/**
 * Finds and checks the weights file: `source` (load's `wasm` option) or WEIGHTS_FILE beside the
 * module.
 */
async function openWeightsFile(source: WeightsSource | undefined): Promise<WeightsFile> {
  const given = source !== undefined;
  const isUrl = source === undefined || typeof source === "string" || source instanceof URL;
  const url = isUrl ? resolve(source ?? WEIGHTS_FILE) : undefined;
  const where = source instanceof WebAssembly.Module
    ? "the WebAssembly.Module given to load()"
    : url
    ? url.href
    : "the weights given to load()";
  const isBytes = source instanceof ArrayBuffer || ArrayBuffer.isView(source);
  const isResponse = typeof Response !== "undefined" && source instanceof Response;
  if (!isUrl && !isBytes && !isResponse && !(source instanceof WebAssembly.Module)) {
    throw new TypeError(
      "load({ wasm }): expected a URL or path, bytes, a Response or a WebAssembly.Module, got " +
        (source === null ? "null" : typeof source),
    );
  }
  let file: WeightsFile;
  try {
    if (source instanceof WebAssembly.Module) file = { kind: "module", module: source };
    else if (url) {
      file = url.protocol === "file:"
        ? (checkLocalFile(url), { kind: "file", url: url.href })
        : { kind: "module", module: await compileResponse(await fetch(url)) };
    } else if (isResponse) {
      file = { kind: "module", module: await compileResponse(source as Response) };
    } else {
      const b = source as unknown as ArrayBuffer | ArrayBufferView;
      const bytes = b instanceof ArrayBuffer
        ? new Uint8Array(b)
        : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      checkHead(bytes, bytes.length);
      file = { kind: "bytes", bytes };
    }
  } catch (e) {
    throw new Error(
      `could not load this module's weights from ${where}: ${(e as Error).message}` +
        (given ? "" : `; serve ${WEIGHTS_FILE} next to the module, or pass it to load({ wasm })`),
    );
  }
  if (file.kind === "module") {
    const id = WebAssembly.Module.customSections(file.module, "ggufc.weights")[0];
    if (!id || new TextDecoder().decode(id) !== WEIGHTS_ID) {
      throw new Error(`${where} does not hold this module's weights (${notOurs})`);
    }
  }
  return file;
}

/** `path` against the module's own URL, or a clear error where that URL cannot be a base. */
function resolve(path: string | URL): URL {
  try {
    return new URL(path, import.meta.url);
  } catch {
    throw new Error(
      `cannot find the weights file '${path}' relative to this module (${
        String(import.meta.url).slice(0, 60)
      }): pass it to load({ wasm })`,
    );
  }
}

/** The weights file's bytes before the weights (empty in modules without one). */
const HEAD = fromBase64(WEIGHTS_HEAD);

const notOurs =
  `expected ${WEIGHTS_FILE} from the same ggufc compile, weights sha256 ${WEIGHTS_ID}`;

/** What the page-touching loop in weightsMemory read (kept only so the loop stays). */
let touched = 0;

/** A memory of the kernels' size with the weights in place. */
async function weightsMemory(file: WeightsFile): Promise<WebAssembly.Memory> {
  if (file.kind === "module") {
    const instance = await WebAssembly.instantiate(file.module);
    return instance.exports.memory as WebAssembly.Memory;
  }
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES });
  const target = new Uint8Array(memory.buffer, WEIGHTS_AT, WEIGHT_BYTES);
  if (file.kind === "bytes") target.set(file.bytes.subarray(file.bytes.length - WEIGHT_BYTES));
  else {
    const f = openLocal(new URL(file.url));
    try {
      readFully(f, target, HEAD.length);
    } finally {
      f.close();
    }
    // One read per 4 KiB page, now. Measured (BENCHMARKS.md, Cold start): after the file was
    // read into it, the kernels' first touch of each page still cost a page fault, which put
    // 1.5-3 ms into the FC net's first predict(); touching the pages here moves that into load()
    // at less cost. The sum is kept so the loop is not optimised away.
    let sum = 0;
    for (let i = 0; i < target.length; i += 4096) sum += target[i]!;
    touched = sum;
  }
  return memory;
}

/** Throws unless `bytes` (the start of a file of `size` bytes) begins with this file's head. */
function checkHead(bytes: Uint8Array, size: number): void {
  if (size !== HEAD.length + WEIGHT_BYTES) {
    throw new Error(`${size} bytes, expected ${HEAD.length + WEIGHT_BYTES} (${notOurs})`);
  }
  for (let i = 0; i < HEAD.length; i++) {
    if (bytes[i] !== HEAD[i]) {
      throw new Error(`byte ${i} differs from the weights file's (${notOurs})`);
    }
  }
}

function checkLocalFile(url: URL): void {
  const f = openLocal(url);
  try {
    const head = new Uint8Array(HEAD.length);
    readFully(f, head, 0);
    checkHead(head, f.size);
  } finally {
    f.close();
  }
}

function readFully(f: LocalFile, into: Uint8Array, position: number): void {
  for (let done = 0; done < into.length;) {
    const n = f.readAt(into.subarray(done), position + done);
    if (n === 0) throw new Error(`the file ends ${into.length - done} bytes early`);
    done += n;
  }
}

/** Opens a local file with Deno's API, else Node's. */
function openLocal(url: URL): LocalFile {
  type DenoFile = {
    statSync(): { size: number };
    seekSync(offset: number, whence: 0): number;
    readSync(p: Uint8Array): number | null;
    close(): void;
  };
  const deno = (globalThis as { Deno?: { openSync(u: URL): DenoFile } }).Deno;
  if (deno) {
    const f = deno.openSync(url);
    return {
      size: f.statSync().size,
      readAt: (into, position) => (f.seekSync(position, 0), f.readSync(into) ?? 0),
      close: () => f.close(),
    };
  }
  type NodeFs = {
    openSync(u: URL, flags: string): number;
    fstatSync(fd: number): { size: number };
    readSync(fd: number, p: Uint8Array, offset: number, length: number, position: number): number;
    closeSync(fd: number): void;
  };
  // Node's fs through process.getBuiltinModule (the module has no imports at all): Node
  // 20.16 and later.
  const node = (globalThis as { process?: { getBuiltinModule?(id: string): NodeFs } }).process;
  const fs = node?.getBuiltinModule?.("node:fs");
  if (!fs) {
    throw new Error(
      "this engine can read neither Deno's nor Node's files (Node >= 20.16 has " +
        "process.getBuiltinModule): pass the file's bytes to load({ wasm })",
    );
  }
  const fd = fs.openSync(url, "r");
  return {
    size: fs.fstatSync(fd).size,
    readAt: (into, position) => fs.readSync(fd, into, 0, into.length, position),
    close: () => fs.closeSync(fd),
  };
}

/** Compiles while downloading when the server says application/wasm, else from the bytes. */
async function compileResponse(response: Response): Promise<WebAssembly.Module> {
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  const type = response.headers.get("content-type") ?? "";
  if (typeof WebAssembly.compileStreaming === "function" && type.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

export { openWeightsFile, touched, type WeightsFile, weightsMemory };
