/**
 * A minimal ZIP reader for the archives `torch.save` writes: the central directory is located
 * through the end-of-central-directory record, every entry's local header is checked against
 * it, and entries are stored or deflated. Every offset and size is bounds-checked before use;
 * archives that need ZIP64 (sizes or counts that do not fit the classic records), encryption,
 * multiple disks or other compression methods are rejected with a {@link FormatError}.
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";
import { FormatError } from "../ggml/errors.ts";
import { ByteReader } from "../ggml/byte_reader.ts";

/** One file in a ZIP archive, as its central directory describes it. */
export interface ZipEntry {
  /** Path inside the archive, e.g. `mnist/data/0`. */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  /** Offset of the entry's local header in the archive. */
  readonly localHeaderOffset: number;
  /** Offset of the entry's (compressed) data in the archive, checked to lie inside it. */
  readonly dataOffset: number;
}

/** A parsed ZIP archive: its entries by name; {@link zipEntryBytes} reads one. */
export interface ZipArchive {
  readonly file: string;
  readonly bytes: Uint8Array;
  /** Entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  readonly byName: ReadonlyMap<string, ZipEntry>;
}

const SIG_EOCD = 0x06054b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
/**
 * Largest deflated entry inflated (64 MiB). Deflate expands up to ~1000x, so without a cap a
 * 4 MB archive can make the reader allocate 4 GB; torch.save stores entries uncompressed
 * (those are views into the file and have no cap).
 */
export const ZIP_MAX_INFLATED = 64 * 2 ** 20;

/**
 * Parses the central directory of a ZIP archive and checks every entry's local header.
 *
 * @param bytes the whole archive
 * @param file the file name used in error messages
 * @returns the archive's entries
 * @throws FormatError for a truncated, inconsistent or unsupported (ZIP64, encrypted, split,
 *   unknown compression) archive
 * @example
 * ```ts ignore
 * import { readZip, zipEntryBytes } from "./zip.ts";
 * const zip = readZip(await Deno.readFile("model.state_dict"), "model.state_dict");
 * const pkl = zipEntryBytes(zip, zip.entries[0]!);
 * ```
 */
export function readZip(bytes: Uint8Array, file = "<memory>"): ZipArchive {
  const r = new ByteReader(bytes, file);
  const eocd = findEocd(r);
  r.pos = eocd + 4;
  const disk = r.u16("end of central directory: disk number");
  const cdDisk = r.u16("end of central directory: central directory disk");
  const countHere = r.u16("end of central directory: entries on this disk");
  const count = r.u16("end of central directory: entry count");
  const cdSize = r.u32("end of central directory: central directory size");
  const cdOffset = r.u32("end of central directory: central directory offset");
  if (
    countHere === 0xffff || count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff
  ) {
    throw new FormatError(
      file,
      eocd,
      "end of central directory",
      "a classic ZIP (sizes and counts below the ZIP64 limits)",
      "ZIP64 sentinel values (ZIP64 archives are not supported)",
    );
  }
  if (disk !== 0 || cdDisk !== 0 || countHere !== count) {
    throw new FormatError(file, eocd + 4, "disk number", "a single-disk archive", `disk ${disk}`);
  }
  // The central directory ends where the EOCD (or a ZIP64 locator/record before it) starts.
  if (cdOffset > eocd || cdSize > eocd - cdOffset) {
    throw new FormatError(
      file,
      eocd + 12,
      "central directory size/offset",
      `a directory inside bytes 0..${eocd}`,
      `offset ${cdOffset}, size ${cdSize}`,
    );
  }
  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  const cd = new ByteReader(bytes.subarray(0, cdOffset + cdSize), file);
  cd.pos = cdOffset;
  for (let i = 0; i < count; i++) {
    const entry = readCentralEntry(cd, r, i);
    if (byName.has(entry.name)) {
      throw new FormatError(
        file,
        entry.localHeaderOffset,
        "entry name",
        "unique names",
        `'${entry.name}' twice`,
      );
    }
    entries.push(entry);
    byName.set(entry.name, entry);
  }
  return { file, bytes, entries, byName };
}

/** Scans back from the end for the end-of-central-directory signature. */
function findEocd(r: ByteReader): number {
  const bytes = r.bytes;
  if (bytes.length < EOCD_SIZE) {
    throw r.error("end of central directory", `at least ${EOCD_SIZE} bytes`, `${bytes.length}`, 0);
  }
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT);
  for (let p = bytes.length - EOCD_SIZE; p >= lowest; p--) {
    if (r.view.getUint32(p, true) !== SIG_EOCD) continue;
    const commentLen = r.view.getUint16(p + 20, true);
    // A ZIP64 locator may sit just before this record (torch writes one always); it is
    // harmless as long as the classic fields hold the real values, which readZip checks.
    if (p + EOCD_SIZE + commentLen === bytes.length) return p;
  }
  throw r.error(
    "end of central directory",
    "signature PK\\x05\\x06 in the last 65557 bytes",
    "none (not a ZIP archive, or truncated)",
    Math.max(0, bytes.length - EOCD_SIZE),
  );
}

function readCentralEntry(cd: ByteReader, whole: ByteReader, index: number): ZipEntry {
  const file = whole.file;
  const at = cd.pos;
  const field = `central directory entry ${index}`;
  const sig = cd.u32(field);
  if (sig !== SIG_CENTRAL) {
    throw cd.error(field, "signature PK\\x01\\x02", `0x${sig.toString(16)}`, at);
  }
  cd.pos = at + 8;
  const flags = cd.u16(`${field}: flags`);
  const method = cd.u16(`${field}: method`);
  cd.pos += 4; // time, date
  const crc32 = cd.u32(`${field}: crc32`);
  const compressedSize = cd.u32(`${field}: compressed size`);
  const size = cd.u32(`${field}: size`);
  const nameLen = cd.u16(`${field}: name length`);
  const extraLen = cd.u16(`${field}: extra length`);
  const commentLen = cd.u16(`${field}: comment length`);
  const diskStart = cd.u16(`${field}: disk`);
  cd.pos += 6; // internal and external attributes
  const localHeaderOffset = cd.u32(`${field}: local header offset`);
  const name = cd.utf8(nameLen, `${field}: name`);
  cd.take(extraLen, `${field}: extra field`);
  cd.take(commentLen, `${field}: comment`);
  const what = `entry '${name}'`;
  if (
    compressedSize === 0xffffffff || size === 0xffffffff || localHeaderOffset === 0xffffffff
  ) {
    throw new FormatError(file, at, what, "sizes below 4 GiB", "ZIP64 sizes (not supported)");
  }
  if (diskStart !== 0) {
    throw new FormatError(file, at, what, "disk 0", `disk ${diskStart}`);
  }
  if (flags & 1) {
    throw new FormatError(file, at + 8, `${what}: flags`, "no encryption", "an encrypted entry");
  }
  if (method !== 0 && method !== 8) {
    throw new FormatError(
      file,
      at + 10,
      `${what}: method`,
      "0 (stored) or 8 (deflate)",
      `${method}`,
    );
  }
  if (method === 8 && size > ZIP_MAX_INFLATED) {
    throw new FormatError(
      file,
      at + 24,
      `${what}: size`,
      `a deflated entry of at most ${ZIP_MAX_INFLATED} bytes (torch.save stores entries)`,
      `${size}`,
    );
  }
  if (method === 0 && compressedSize !== size) {
    throw new FormatError(
      file,
      at + 20,
      `${what}: size`,
      `the stored size ${compressedSize}`,
      `${size}`,
    );
  }
  // The local header repeats the name; its extra field may differ (torch pads data there).
  const lr = new ByteReader(whole.bytes, file);
  if (localHeaderOffset > whole.bytes.length - LOCAL_SIZE) {
    throw new FormatError(
      file,
      at + 42,
      `${what}: local header offset`,
      `at most ${whole.bytes.length - LOCAL_SIZE}`,
      `${localHeaderOffset} (past the end of the archive)`,
    );
  }
  lr.pos = localHeaderOffset;
  const lsig = lr.u32(`${what}: local header`);
  if (lsig !== SIG_LOCAL) {
    throw lr.error(
      `${what}: local header`,
      "signature PK\\x03\\x04",
      `0x${lsig.toString(16)}`,
      localHeaderOffset,
    );
  }
  lr.pos = localHeaderOffset + 26;
  const lNameLen = lr.u16(`${what}: local name length`);
  const lExtraLen = lr.u16(`${what}: local extra length`);
  const lNameAt = lr.pos;
  const lName = lr.utf8(lNameLen, `${what}: local name`);
  if (lName !== name) {
    throw lr.error(`${what}: local name`, `'${name}'`, `'${lName}'`, lNameAt);
  }
  lr.take(lExtraLen, `${what}: local extra field`);
  const dataOffset = lr.pos;
  if (compressedSize > whole.bytes.length - dataOffset) {
    throw new FormatError(
      file,
      dataOffset,
      `${what}: data`,
      `${compressedSize} bytes`,
      `only ${whole.bytes.length - dataOffset} left (entry runs past the end of the archive)`,
    );
  }
  return { name, method, compressedSize, size, crc32, localHeaderOffset, dataOffset };
}

/**
 * The uncompressed bytes of one entry, CRC-checked. Stored entries are views into the archive
 * (no copy); deflated ones are inflated with `node:zlib`, capped at the declared size.
 *
 * @param zip the archive from {@link readZip}
 * @param entry one of `zip.entries`
 * @returns the entry's contents
 * @throws FormatError when the data does not inflate to the declared size or fails its CRC
 */
export function zipEntryBytes(zip: ZipArchive, entry: ZipEntry): Uint8Array {
  const raw = zip.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  let data: Uint8Array;
  if (entry.method === 0) {
    data = raw;
  } else {
    try {
      data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) }));
    } catch (e) {
      const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new FormatError(
        zip.file,
        entry.dataOffset,
        `entry '${entry.name}': deflate data`,
        `a valid stream of ${entry.size} bytes`,
        `${msg}`,
      );
    }
    if (data.length !== entry.size) {
      throw new FormatError(
        zip.file,
        entry.dataOffset,
        `entry '${entry.name}': inflated size`,
        `${entry.size}`,
        `${data.length}`,
      );
    }
  }
  const crc = crc32(data);
  if (crc !== entry.crc32) {
    throw new FormatError(
      zip.file,
      entry.dataOffset,
      `entry '${entry.name}': crc32`,
      `0x${entry.crc32.toString(16)}`,
      `0x${crc.toString(16)}`,
    );
  }
  return data;
}

let crcTable: Uint32Array | undefined;

/**
 * CRC-32 (IEEE 802.3, as ZIP uses it) of `data`.
 *
 * @param data the bytes
 * @returns the checksum as an unsigned 32-bit number
 */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
