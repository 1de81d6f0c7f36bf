/**
 * The CLI's one way to touch the file system. Inputs: stat first (never open a FIFO, device,
 * socket or folder: opening a FIFO blocks and a device can stream forever), a size limit per
 * kind of file, an optional check of the first bytes before the rest is read, then a read of
 * exactly the size stat gave. Outputs: written to a temporary file in the target's folder,
 * flushed, then renamed over the target, so a failed write leaves the old file as it was; an
 * output that is one of the command's inputs is refused. Every operating-system error becomes
 * one line naming the path: a {@link UsageError} (exit 2) when the path is missing, a folder,
 * the wrong kind of file or not allowed, an {@link IoError} (exit 4) when the system fails.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { FormatError, IoError, UsageError } from "../ggml/errors.ts";

/** How a kind of input file is read. */
export interface InputKind {
  /** What the file is, for messages: "model", "images file", ... */
  readonly what: string;
  /** Largest size accepted, in bytes. */
  readonly maxBytes: number;
  /**
   * Checks the first {@link sniffBytes} bytes (fewer for a shorter file) before the rest is
   * read, e.g. the magic, so a huge file of the wrong format costs a few bytes of reading.
   */
  readonly sniff?: (head: Uint8Array, path: string) => void;
  readonly sniffBytes?: number;
}

const MiB = 2 ** 20;

/** Models: GGUF or legacy ggml. The compiler inlines the weights into one module, so models
 * far beyond MNIST scale are out of scope; 512 MiB bounds what a wrong file can cost. */
export const MODEL_MAX_BYTES = 512 * MiB;
/** IDX images: the 60,000 MNIST training images are 47 MB. */
export const IMAGES_MAX_BYTES = 256 * MiB;
/** IDX labels: one byte per image. */
export const LABELS_MAX_BYTES = 16 * MiB;
/** PyTorch state dicts (torch.save zip files). */
export const STATE_DICT_MAX_BYTES = 512 * MiB;

/** Counts of what {@link readInputFile} read, for tests that bound the work done on a file. */
export const readCounters = { files: 0, readCalls: 0, bytesRead: 0 };

/** Resets {@link readCounters}. */
export function resetReadCounters(): void {
  readCounters.files = readCounters.readCalls = readCounters.bytesRead = 0;
}

/** The operating system's reason from a Deno error, without its "(os error N): op 'path'". */
export function osReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const reason = message.split("\n")[0]!.replace(/ \(os error \d+\).*$/, "").replace(/:.*$/, "");
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}

/**
 * The one-line error for an operating-system error on `path`.
 *
 * @param e what Deno threw
 * @param path the path as the user gave it
 * @param action read or write
 * @param what what the file is, for messages
 */
export function fileError(
  e: unknown,
  path: string,
  action: "read" | "write",
  what: string,
): Error {
  if (e instanceof UsageError || e instanceof FormatError || e instanceof IoError) return e;
  if (e instanceof Deno.errors.NotFound) {
    return new UsageError(
      action === "read"
        ? `${what} '${path}' does not exist`
        : `cannot write '${path}': its folder does not exist`,
    );
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return new UsageError(
      action === "read" ? `${what} '${path}' is a directory` : `cannot write '${path}': a folder`,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return new UsageError(
      action === "read"
        ? `${what} '${path}': permission denied`
        : `cannot write '${path}': ${osReason(e)}`,
    );
  }
  return new IoError(path, action, osReason(e));
}

/** "a directory", "a named pipe (FIFO)", ... for a file that is not a regular file. */
export function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a named pipe (FIFO)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** Model files: GGUF or the legacy ggml magic, checked before the rest is read. */
export const MODEL_FILE: InputKind = {
  what: "model",
  maxBytes: MODEL_MAX_BYTES,
  sniffBytes: 4,
  sniff: (head, path) => {
    const gguf = [0x47, 0x47, 0x55, 0x46], legacy = [0x6c, 0x6d, 0x67, 0x67];
    const is = (m: number[]) => head.length >= 4 && m.every((b, i) => head[i] === b);
    if (is(gguf) || is(legacy)) return;
    if (head.length < 4) {
      throw new FormatError(
        path,
        0,
        "magic",
        "4 more bytes",
        `only ${head.length} left (file is truncated)`,
      );
    }
    const found = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    const zip = head[0] === 0x50 && head[1] === 0x4b
      ? " (a ZIP file: a PyTorch state dict? see 'ggufc convert')"
      : "";
    throw new FormatError(
      path,
      0,
      "magic",
      "'GGUF' (47 47 55 46) or legacy ggml (6c 6d 67 67)",
      found.join(" ") + zip,
    );
  },
};

/**
 * Reads a whole input file after checking what it is.
 *
 * @param path the path as the user gave it
 * @param kind what the file is and how large it may be (or just its name for messages, with
 *   the model limit)
 * @returns the file's bytes
 * @throws {UsageError} missing, a folder, a FIFO / device / socket, permission denied
 * @throws {FormatError} larger than the kind allows, or a bad first few bytes
 * @throws {IoError} any other operating-system error (symlink loop, name too long, EIO, ...)
 * @example
 * ```ts ignore
 * import { MODEL_FILE, readInputFile } from "./files.ts";
 * const bytes = await readInputFile("models/mnist-fc.gguf", MODEL_FILE);
 * ```
 */
export async function readInputFile(
  path: string,
  kind: InputKind | string = "file",
): Promise<Uint8Array> {
  const k: InputKind = typeof kind === "string" ? { what: kind, maxBytes: MODEL_MAX_BYTES } : kind;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw fileError(e, path, "read", k.what);
  }
  if (info.isDirectory) throw new UsageError(`${k.what} '${path}' is a directory`);
  if (!info.isFile) {
    throw new UsageError(`${k.what} '${path}' is ${kindOf(info)}, not a regular file`);
  }
  if (info.size > k.maxBytes) {
    throw new FormatError(
      path,
      0,
      "file size",
      `at most ${k.maxBytes} bytes for a ${k.what}`,
      `${info.size} bytes`,
    );
  }
  readCounters.files++;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const size = info.size;
    // One byte more than stat said, to notice a file that grew since.
    const bytes = new Uint8Array(size + 1);
    let n = 0;
    const fill = async (end: number) => {
      while (n < end) {
        readCounters.readCalls++;
        const got = await file!.read(bytes.subarray(n, end));
        if (got === null) return;
        n += got;
        readCounters.bytesRead += got;
      }
    };
    if (k.sniff) {
      await fill(Math.min(size, k.sniffBytes ?? 16));
      k.sniff(bytes.subarray(0, n), path);
    }
    await fill(size + 1);
    if (n > size) {
      throw new IoError(
        path,
        "read",
        `the file changed while being read (grew past ${size} bytes)`,
      );
    }
    return bytes.subarray(0, n);
  } catch (e) {
    throw fileError(e, path, "read", k.what);
  } finally {
    file?.close();
  }
}

/**
 * Reads parts of an input file: `windows(size)` names `[offset, length]` ranges inside the file
 * (each within 0..size), read with positioned reads and returned one after the other. A file of
 * any size costs only the bytes asked for. Checks and errors as {@link readInputFile}.
 *
 * @param path the path as the user gave it
 * @param what what the file is, for messages
 * @param windows the ranges to read, given the file's size from stat
 * @returns the ranges' bytes, concatenated, and the file's size
 */
export async function readInputWindows(
  path: string,
  what: string,
  windows: (size: number) => readonly (readonly [number, number])[],
): Promise<{ bytes: Uint8Array; size: number }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw fileError(e, path, "read", what);
  }
  if (info.isDirectory) throw new UsageError(`${what} '${path}' is a directory`);
  if (!info.isFile) {
    throw new UsageError(`${what} '${path}' is ${kindOf(info)}, not a regular file`);
  }
  const size = info.size;
  const ranges = windows(size);
  const bytes = new Uint8Array(ranges.reduce((n, [, len]) => n + len, 0));
  readCounters.files++;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    let at = 0;
    for (const [offset, length] of ranges) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`window [${offset}, +${length}) outside a file of ${size} bytes`);
      }
      await file.seek(offset, Deno.SeekMode.Start);
      for (let n = 0; n < length;) {
        readCounters.readCalls++;
        const got = await file.read(bytes.subarray(at + n, at + length));
        if (got === null) {
          throw new IoError(path, "read", `the file shrank while being read (below ${size} bytes)`);
        }
        n += got;
        readCounters.bytesRead += got;
      }
      at += length;
    }
    return { bytes, size };
  } catch (e) {
    throw fileError(e, path, "read", what);
  } finally {
    file?.close();
  }
}

/** The file-system calls {@link writeOutputFile} makes (tests replace them to fail midway). */
export interface OutputFs {
  open(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
}

const DENO_FS: OutputFs = {
  open: (p, o) => Deno.open(p, o),
  rename: (a, b) => Deno.rename(a, b),
  remove: (p) => Deno.remove(p),
};

/** Options of {@link writeOutputFile} and {@link checkOutputPath}. */
export interface OutputOptions {
  /** The command's input paths: writing over one of them is refused. */
  readonly inputs?: readonly (string | undefined)[];
  /** The file-system calls to use (tests). */
  readonly fs?: OutputFs;
}

/** stat() that returns undefined for a missing path and maps other errors. */
async function statOrUndefined(path: string, action: "read" | "write", what: string) {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw fileError(e, path, action, what);
  }
}

/**
 * Checks an output path before a command does its work: its folder exists, it is not a folder,
 * FIFO or socket, and it is not one of the command's inputs (same device and inode, so a
 * symlink or another spelling of the path is caught).
 *
 * @param path the output path
 * @param options the command's inputs
 * @returns what the path holds now (undefined when it does not exist)
 */
export async function checkOutputPath(
  path: string,
  options: OutputOptions = {},
): Promise<Deno.FileInfo | undefined> {
  const dir = dirname(path);
  const dirInfo = await statOrUndefined(dir, "write", "folder");
  if (dirInfo === undefined) {
    throw new UsageError(`cannot write '${path}': directory '${dir}' does not exist`);
  }
  if (!dirInfo.isDirectory) {
    throw new IoError(path, "write", `'${dir}' is not a directory`);
  }
  const info = await statOrUndefined(path, "write", "output");
  if (info === undefined) return undefined;
  if (info.isDirectory) throw new UsageError(`cannot write '${path}': it is a directory`);
  if (!info.isFile && !info.isCharDevice) {
    throw new UsageError(`cannot write '${path}': it is ${kindOf(info)}, not a regular file`);
  }
  for (const input of options.inputs ?? []) {
    if (input === undefined) continue;
    const inInfo = await statOrUndefined(input, "read", "input");
    if (inInfo && inInfo.dev === info.dev && inInfo.ino === info.ino && info.ino !== null) {
      throw new UsageError(
        input === path
          ? `cannot write '${path}': it is an input of this command`
          : `cannot write '${path}': it is the input '${input}'`,
      );
    }
  }
  return info;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let n = 0;
  while (n < bytes.length) n += await file.write(bytes.subarray(n));
}

/**
 * Writes an output file atomically: the bytes go to a temporary file in the same folder, are
 * flushed to disk, and the temporary file is renamed over `path` (through a symlink, over the
 * symlink's target). On any failure the old file is untouched and the temporary file removed.
 * A character device (`/dev/null`, `/dev/stdout`) is written directly.
 *
 * @param path where to write
 * @param data the contents (text is written as UTF-8)
 * @param options the command's inputs (refused as outputs); the file-system calls (tests)
 * @throws {UsageError} folder missing, path is a folder / FIFO / socket / an input
 * @throws {IoError} the write, flush or rename failed (disk full, I/O error, ...)
 * @example
 * ```ts ignore
 * import { writeOutputFile } from "./files.ts";
 * await writeOutputFile("out.ts", "export {};", { inputs: ["model.gguf"] });
 * ```
 */
export async function writeOutputFile(
  path: string,
  data: Uint8Array | string,
  options: OutputOptions = {},
): Promise<void> {
  const fs = options.fs ?? DENO_FS;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const info = await checkOutputPath(path, options);
  if (info?.isCharDevice) {
    let file: Deno.FsFile | undefined;
    try {
      file = await fs.open(path, { write: true });
      await writeAll(file, bytes);
    } catch (e) {
      throw fileError(e, path, "write", "output");
    } finally {
      file?.close();
    }
    return;
  }
  // Through a symlink, replace its target (the link stays a link).
  let target = path;
  try {
    if (info !== undefined) target = await Deno.realPath(path);
  } catch (e) {
    throw fileError(e, path, "write", "output");
  }
  const tmp = join(
    dirname(target),
    `.${basename(target)}.${crypto.randomUUID().slice(0, 8)}.ggufc-tmp`,
  );
  let file: Deno.FsFile | undefined;
  let created = false;
  try {
    file = await fs.open(tmp, {
      write: true,
      createNew: true,
      ...(info?.mode != null ? { mode: info.mode & 0o777 } : {}),
    });
    created = true;
    await writeAll(file, bytes);
    await file.sync();
    file.close();
    file = undefined;
    await fs.rename(tmp, target);
    created = false;
  } catch (e) {
    throw fileError(e, path, "write", "output");
  } finally {
    file?.close();
    if (created) await fs.remove(tmp).catch(() => {});
  }
}
