/**
 * GGUF reader (versions 1, 2 and 3, little-endian), following ggml's docs/gguf.md and the
 * checks of ggml's own gguf.cpp. Every count and length is checked against the bytes left
 * before anything is allocated from it; every problem is a {@link FormatError} naming the field
 * and byte offset. Tensor data is returned as views into the file bytes (no copy).
 *
 * Layout: magic "GGUF", u32 version, tensor count, kv count, the key/value pairs, the tensor
 * infos (name, u32 n_dims, dims in ggml ne order, u32 type, u64 offset), zero padding to the
 * alignment, then the data section. Version 1 stores counts, string lengths, array lengths and
 * dims as u32; versions 2 and 3 as u64.
 *
 * @module
 */
import { FormatError } from "./errors.ts";
import { ByteReader } from "./byte_reader.ts";
import {
  describeGgmlTypeId,
  GgmlType,
  ggmlTypeInfo,
  ggmlTypeName,
  isGgmlType,
  tensorByteSize,
} from "./ggml_types.ts";
import { dequantize } from "./quant.ts";

/** A metadata value, tagged with its GGUF value type. */
export type GgufValue =
  | {
    type: "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
    value: number;
  }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: GgufValueType; value: GgufValue[] };

/** The name of a GGUF value type. */
export type GgufValueType = GgufValue["type"];

/** GGUF value type ids (`enum gguf_type`) by name, and back. */
export const GGUF_VALUE_TYPE_IDS: Readonly<Record<GgufValueType, number>> = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
};
const VALUE_TYPE_NAMES: readonly GgufValueType[] = Object.entries(GGUF_VALUE_TYPE_IDS)
  .sort((a, b) => a[1] - b[1]).map(([k]) => k as GgufValueType);

/** One tensor of a GGUF file. */
export interface GgufTensor {
  name: string;
  /** Dims in ggml order, ne[0] fastest. */
  ne: number[];
  type: GgmlType;
  /** Offset in the data section (a multiple of the alignment). */
  offset: number;
  /** Offset of the data in the file. */
  fileOffset: number;
  byteSize: number;
  /** The raw data: a view into the file bytes. */
  data: Uint8Array;
}

/** A parsed GGUF file. */
export interface GgufFile {
  version: 1 | 2 | 3;
  alignment: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensor[];
  /** File offset of the data section. */
  dataOffset: number;
  /** The file name used in errors. */
  file: string;
  /** File offset of each metadata value (for errors about it); absent in hand-made objects. */
  metadataOffsets?: Map<string, number>;
}

/** The alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Deepest nesting of arrays in metadata accepted (arrays of arrays of ...). */
export const GGUF_MAX_ARRAY_DEPTH = 8;
/**
 * Longest tensor name in bytes: ggml keeps names in a `char[GGML_MAX_NAME]` (64) with its NUL
 * and its loader refuses longer ones (docs/gguf.md: "at most 64 bytes").
 */
export const GGUF_MAX_TENSOR_NAME = 63;
/** Most dims a tensor may have (GGML_MAX_DIMS). */
export const GGUF_MAX_DIMS = 4;
/**
 * Most tensors a file may declare. Each costs a few hundred bytes of objects for its 32+ bytes
 * of header, so without a cap a large hostile header takes seconds and hundreds of MB.
 */
export const GGUF_MAX_TENSORS = 65536;
/** Most metadata keys a file may declare (real files have tens), for the same reason. */
export const GGUF_MAX_KV = 65536;
/**
 * Most metadata values in all (keys plus array items, nested ones included): each becomes an
 * object of ~50 bytes from as little as 1 byte of file, ~0.5 us each. LLM tokenizers need ~800k.
 */
export const GGUF_MAX_METADATA_VALUES = 2 ** 20;

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

/** Smallest encoding of one value of each type, for checking counts before allocating. */
function minValueSize(type: GgufValueType, lenSize: number): number {
  switch (type) {
    case "uint8":
    case "int8":
    case "bool":
      return 1;
    case "uint16":
    case "int16":
      return 2;
    case "uint32":
    case "int32":
    case "float32":
      return 4;
    case "uint64":
    case "int64":
    case "float64":
      return 8;
    case "string":
      return lenSize; // the length, with no bytes
    case "array":
      return 4 + lenSize; // item type and count, no items
  }
}

class GgufParser {
  readonly r: ByteReader;
  version: 1 | 2 | 3 = 3;
  /** Bytes of a count or length: 4 in v1, 8 after. */
  lenSize = 8;
  /** Metadata values (keys and array items) counted so far, against the cap. */
  values = 0;

  constructor(bytes: Uint8Array, readonly file: string) {
    this.r = new ByteReader(bytes, file);
  }

  /**
   * A count or length (u32 in v1, u64 after) of at most `max(bytesLeft)`, where `bytesLeft` is
   * what follows the count field itself.
   */
  count(field: string, max: (bytesLeft: number) => number, what = "at most"): number {
    const limit = Math.max(0, max(this.r.remaining - this.lenSize));
    return this.version === 1
      ? this.r.u32Bounded(field, limit, what)
      : this.r.u64Bounded(field, limit, what);
  }

  string(field: string): string {
    const n = this.count(`${field} length`, (left) => left, "at most the bytes left,");
    return this.r.utf8(n, field);
  }

  valueType(field: string): GgufValueType {
    const at = this.r.pos;
    const id = this.r.u32(field);
    const name = VALUE_TYPE_NAMES[id];
    if (name === undefined) {
      throw this.r.error(field, "a GGUF value type 0..12", String(id), at);
    }
    return name;
  }

  value(type: GgufValueType, field: string, depth: number): GgufValue {
    const r = this.r;
    switch (type) {
      case "uint8":
        return { type, value: r.u8(field) };
      case "int8":
        return { type, value: r.i8(field) };
      case "uint16":
        return { type, value: r.u16(field) };
      case "int16":
        return { type, value: r.i16(field) };
      case "uint32":
        return { type, value: r.u32(field) };
      case "int32":
        return { type, value: r.i32(field) };
      case "float32":
        return { type, value: r.f32(field) };
      case "float64":
        return { type, value: r.f64(field) };
      case "uint64":
        return { type, value: r.u64(field) };
      case "int64":
        return { type, value: r.i64(field) };
      case "bool": {
        const at = r.pos;
        const b = r.u8(field);
        if (b > 1) throw r.error(field, "a bool (0 or 1)", String(b), at);
        return { type, value: b === 1 };
      }
      case "string":
        return { type, value: this.string(field) };
      case "array": {
        const at = r.pos;
        if (depth >= GGUF_MAX_ARRAY_DEPTH) {
          throw r.error(
            field,
            `arrays nested at most ${GGUF_MAX_ARRAY_DEPTH} deep`,
            `depth ${depth + 1}`,
            at,
          );
        }
        const itemType = this.valueType(`${field} item type`);
        const min = minValueSize(itemType, this.lenSize);
        const n = this.count(
          `${field} count`,
          (left) => Math.floor(left / min),
          `at most (bytes left / ${min}) =`,
        );
        this.budget(n, `${field} count`, r.pos - this.lenSize);
        const items: GgufValue[] = new Array(n);
        // Fixed-size items cannot fail once the count is checked: skip a name per item.
        const fixed = itemType !== "string" && itemType !== "array" && itemType !== "bool";
        const itemField = `${field}[]`;
        for (let i = 0; i < n; i++) {
          items[i] = this.value(itemType, fixed ? itemField : `${field}[${i}]`, depth + 1);
        }
        return { type, itemType, value: items };
      }
    }
  }

  /** Counts `n` more metadata values against {@link GGUF_MAX_METADATA_VALUES}. */
  budget(n: number, field: string, at: number): void {
    this.values += n;
    if (this.values > GGUF_MAX_METADATA_VALUES) {
      throw this.r.error(
        field,
        `at most ${GGUF_MAX_METADATA_VALUES} metadata values (keys and array items) in all`,
        `${n}, making ${this.values}`,
        at,
      );
    }
  }

  parse(): GgufFile {
    const r = this.r;
    const bytes = r.bytes;
    r.need(4, "magic");
    const magic = r.u32("magic");
    if (magic !== MAGIC) {
      const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"))
        .join(" ");
      throw r.error("magic", `'GGUF' (47 47 55 46)`, found, 0);
    }
    const version = r.u32("version");
    if (version < 1 || version > 3) {
      const swapped = ((version & 0xff) << 24 | (version & 0xff00) << 8 |
        (version >>> 8) & 0xff00 | version >>> 24) >>> 0;
      if (swapped >= 1 && swapped <= 3) {
        throw r.error(
          "version",
          "a little-endian file (big-endian GGUF is not supported)",
          `version ${swapped} stored big-endian`,
          4,
        );
      }
      throw r.error("version", "1, 2 or 3", String(version), 4);
    }
    this.version = version as 1 | 2 | 3;
    this.lenSize = version === 1 ? 4 : 8;

    // Smallest tensor info: empty name, n_dims, one dim, type, offset. Smallest kv: empty key,
    // type, a one-byte value. Counts beyond what the bytes left could hold are rejected here.
    const minTensorInfo = this.lenSize + 4 + this.lenSize + 4 + 8;
    const minKv = this.lenSize + 4 + 1;
    const nTensors = this.count(
      "tensor_count",
      (left) => Math.floor((left - this.lenSize) / minTensorInfo),
      `at most (bytes left / ${minTensorInfo}) =`,
    );
    if (nTensors > GGUF_MAX_TENSORS) {
      throw r.error("tensor_count", `at most ${GGUF_MAX_TENSORS}`, String(nTensors), 8);
    }
    const nKvAt = r.pos;
    const nKv = this.count(
      "metadata_kv_count",
      (left) => Math.floor(left / minKv),
      `at most (bytes left / ${minKv}) =`,
    );
    if (nKv > GGUF_MAX_KV) {
      throw r.error("metadata_kv_count", `at most ${GGUF_MAX_KV}`, String(nKv), nKvAt);
    }
    this.budget(nKv, "metadata_kv_count", nKvAt);

    const metadata = new Map<string, GgufValue>();
    const metadataOffsets = new Map<string, number>();
    for (let i = 0; i < nKv; i++) {
      const at = r.pos;
      const key = this.string(`metadata key ${i}`);
      if (metadata.has(key)) {
        throw r.error(`metadata key ${i}`, "a unique key", `duplicate '${key}'`, at);
      }
      const type = this.valueType(`type of '${key}'`);
      metadataOffsets.set(key, r.pos);
      metadata.set(key, this.value(type, `'${key}'`, 0));
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    const al = metadata.get("general.alignment");
    if (al !== undefined) {
      const alAt = metadataOffsets.get("general.alignment")!;
      if (al.type !== "uint32") {
        throw r.error("general.alignment", "a uint32", `a ${al.type}`, alAt);
      }
      if (al.value === 0 || (al.value & (al.value - 1)) !== 0) {
        throw r.error("general.alignment", "a power of two", String(al.value), alAt);
      }
      alignment = al.value;
    }

    /** `at`: where the tensor info starts; `infoBytes`: its length (the offset is its last 8). */
    type Info = Omit<GgufTensor, "fileOffset" | "data"> & { at: number; infoBytes: number };
    const infos: Info[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const at = r.pos;
      const name = this.string(`tensor ${i} name`);
      const nameBytes = r.pos - at - this.lenSize;
      if (nameBytes > GGUF_MAX_TENSOR_NAME) {
        throw r.error(
          `tensor ${i} name`,
          `at most ${GGUF_MAX_TENSOR_NAME} bytes (ggml's GGML_MAX_NAME - 1)`,
          `${nameBytes} bytes`,
          at,
        );
      }
      if (names.has(name)) {
        throw r.error(`tensor ${i} name`, "a unique name", `duplicate '${name}'`, at);
      }
      names.add(name);
      const nDimsAt = r.pos;
      const nDims = r.u32(`tensor '${name}' n_dims`);
      if (nDims < 1 || nDims > GGUF_MAX_DIMS) {
        throw r.error(`tensor '${name}' n_dims`, `1 to ${GGUF_MAX_DIMS}`, String(nDims), nDimsAt);
      }
      const ne: number[] = [];
      let elements = 1;
      for (let j = 0; j < nDims; j++) {
        const field = `tensor '${name}' ne[${j}]`;
        const dimAt = r.pos;
        const d = version === 1 ? BigInt(r.u32(field)) : r.i64(field);
        if (d < 1n) throw r.error(field, "a dim of at least 1", d.toString(), dimAt);
        if (d > BigInt(Number.MAX_SAFE_INTEGER) || elements * Number(d) > Number.MAX_SAFE_INTEGER) {
          throw r.error(
            field,
            "an element count of at most 2^53",
            `${d} (product of dims overflows)`,
            dimAt,
          );
        }
        ne.push(Number(d));
        elements *= Number(d);
      }
      const typeAt = r.pos;
      const typeId = r.u32(`tensor '${name}' type`);
      if (!isGgmlType(typeId)) {
        throw r.error(
          `tensor '${name}' type`,
          "f32, f16, bf16, q4_0, q4_1, q5_0, q5_1 or q8_0",
          describeGgmlTypeId(typeId),
          typeAt,
        );
      }
      const { blockSize, typeSize } = ggmlTypeInfo(typeId);
      if (ne[0]! % blockSize !== 0) {
        throw r.error(
          `tensor '${name}' ne[0]`,
          `a multiple of the ${ggmlTypeName(typeId)} block size ${blockSize}`,
          String(ne[0]),
          nDimsAt + 4,
        );
      }
      // elements / blockSize * typeSize can exceed the file only for a hostile header
      if ((elements / blockSize) * typeSize > bytes.length) {
        throw r.error(
          `tensor '${name}' dims`,
          `a tensor no larger than the file (${bytes.length} bytes)`,
          `[${ne.join(", ")}] ${ggmlTypeName(typeId)} = ${(elements / blockSize) * typeSize} bytes`,
          nDimsAt,
        );
      }
      const offAt = r.pos;
      const off = r.u64(`tensor '${name}' offset`);
      if (off > BigInt(bytes.length)) {
        throw r.error(
          `tensor '${name}' offset`,
          `an offset within the file (${bytes.length} bytes)`,
          off.toString(),
          offAt,
        );
      }
      const offset = Number(off);
      if (offset % alignment !== 0) {
        throw r.error(
          `tensor '${name}' offset`,
          `a multiple of the alignment ${alignment}`,
          String(offset),
          offAt,
        );
      }
      const byteSize = tensorByteSize(typeId, ne);
      infos.push({ name, ne, type: typeId, offset, byteSize, at, infoBytes: r.pos - at });
    }

    // As ggml's loader: tensor i's offset must be the sum of the sizes of tensors 0..i-1, each
    // padded to the alignment. So tensors are in file order and never overlap.
    let expectedOffset = 0;
    for (const t of infos) {
      if (t.offset !== expectedOffset) {
        throw r.error(
          `tensor '${t.name}' offset`,
          `${expectedOffset} (the padded sizes of the tensors before it)`,
          `${t.offset}${t.offset < expectedOffset ? " (overlaps an earlier tensor's data)" : ""}`,
          t.at + t.infoBytes - 8,
        );
      }
      expectedOffset += Math.ceil(t.byteSize / alignment) * alignment;
    }

    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    const tensors: GgufTensor[] = infos.map(({ at, infoBytes: _, ...t }) => {
      const fileOffset = dataOffset + t.offset;
      if (fileOffset + t.byteSize > bytes.length) {
        throw new FormatError(
          this.file,
          at,
          `tensor '${t.name}' data`,
          `${t.byteSize} bytes at file offset ${fileOffset}`,
          `a file of ${bytes.length} bytes (data past the end of the file)`,
        );
      }
      return { ...t, fileOffset, data: bytes.subarray(fileOffset, fileOffset + t.byteSize) };
    });
    return {
      version: this.version,
      alignment,
      metadata,
      tensors,
      dataOffset,
      file: this.file,
      metadataOffsets,
    };
  }
}

/**
 * Parses a GGUF file (v1, v2 or v3). Tensor data stays in `bytes` (views, no copy).
 *
 * @param bytes the whole file
 * @param file the file name for error messages
 * @returns header, metadata and tensors
 * @throws {FormatError} for any malformed or unsupported content
 * @example
 * ```ts
 * import { readGguf } from "./gguf_reader.ts";
 * import { writeGguf } from "./gguf_writer.ts";
 * import { GgmlType } from "./ggml_types.ts";
 * const bytes = writeGguf({
 *   metadata: [["general.architecture", { type: "string", value: "demo" }]],
 *   tensors: [{ name: "w", ne: [2], type: GgmlType.F32, data: new Uint8Array(8) }],
 * });
 * const f = readGguf(bytes, "demo.gguf");
 * console.log(f.version, f.tensors[0]?.ne); // 3 [ 2 ]
 * ```
 */
export function readGguf(bytes: Uint8Array, file = "<memory>"): GgufFile {
  return new GgufParser(bytes, file).parse();
}

/**
 * A tensor's values as float32, dequantised exactly as ggml does. An F32 tensor whose data is
 * 4-byte aligned in its buffer comes back as a view (no copy; do not write to it).
 *
 * @param t a tensor from {@link readGguf}
 * @param file the file name for error messages
 * @returns product(ne) values, ne[0] fastest
 */
export function tensorToF32(t: GgufTensor, file = "<memory>"): Float32Array {
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (t.data.length < t.byteSize) {
    throw new FormatError(
      file,
      t.fileOffset,
      `tensor '${t.name}' data`,
      `${t.byteSize} bytes`,
      `${t.data.length}`,
    );
  }
  if (t.type === GgmlType.F32 && t.data.byteOffset % 4 === 0) {
    return new Float32Array(t.data.buffer, t.data.byteOffset, n);
  }
  return dequantize(t.type, t.data, n);
}

function keyAt(f: GgufFile, key: string): number {
  return f.metadataOffsets?.get(key) ?? 0;
}

/**
 * A string metadata value.
 *
 * @param f the file
 * @param key the key
 * @returns the string, or undefined when the key is absent
 * @throws {FormatError} when the key holds another type
 */
export function metaString(f: GgufFile, key: string): string | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== "string") {
    throw new FormatError(f.file, keyAt(f, key), key, "a string", `a ${v.type}`);
  }
  return v.value;
}

/**
 * A numeric metadata value (any integer or float type) as a number.
 *
 * @param f the file
 * @param key the key
 * @returns the number, or undefined when the key is absent
 * @throws {FormatError} when the key holds a non-number or a 64-bit integer beyond 2^53
 */
export function metaNumber(f: GgufFile, key: string): number | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type === "uint64" || v.type === "int64") {
    if (v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError(f.file, keyAt(f, key), key, "a number within 2^53", v.value.toString());
    }
    return Number(v.value);
  }
  if (typeof v.value !== "number") {
    throw new FormatError(f.file, keyAt(f, key), key, "a number", `a ${v.type}`);
  }
  return v.value;
}

/**
 * The tensor called `name`.
 *
 * @param f the file
 * @param name the tensor name
 * @returns the tensor, or undefined
 */
export function findTensor(f: GgufFile, name: string): GgufTensor | undefined {
  return f.tensors.find((t) => t.name === name);
}

/**
 * Whether `bytes` start with the GGUF magic.
 *
 * @param bytes file bytes
 * @returns true for "GGUF"
 */
export function isGguf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x47 && bytes[2] === 0x55 &&
    bytes[3] === 0x46;
}
