/**
 * GGUF v3 writer. The layout matches ggml's own writer (gguf_write_to_buf): header, key/value
 * pairs in the given order, tensor infos with offsets packed in order (each tensor's data padded
 * with zeros to the alignment, the last one too), zero padding to the alignment after the infos,
 * then the data. Strings are a u64 length and the UTF-8 bytes, no NUL. Same input, same bytes.
 *
 * @module
 */
import { type GgmlType, ggmlTypeName, isGgmlType, tensorByteSize } from "./ggml_types.ts";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAX_DIMS,
  GGUF_MAX_TENSOR_NAME,
  GGUF_VALUE_TYPE_IDS,
  type GgufValue,
  type GgufValueType,
} from "./gguf_reader.ts";

/** A tensor to write. */
export interface GgufWriteTensor {
  name: string;
  /** Dims in ggml order, ne[0] fastest. */
  ne: number[];
  type: GgmlType;
  /** Exactly `tensorByteSize(type, ne)` bytes. */
  data: Uint8Array;
}

/** Options of {@link writeGguf}. */
export interface GgufWriteOptions {
  /** Key/value pairs, written in this order. */
  metadata: [string, GgufValue][];
  tensors: GgufWriteTensor[];
  /**
   * Data alignment (a power of two). When it is not 32 and `general.alignment` is not in
   * `metadata`, that key is appended so readers find it. Default: `general.alignment` or 32.
   */
  alignment?: number;
}

export { GGUF_MAX_TENSOR_NAME } from "./gguf_reader.ts";

const encoder = new TextEncoder();

/** Growable little-endian byte sink. */
class Sink {
  buf = new Uint8Array(1024);
  view = new DataView(this.buf.buffer);
  len = 0;

  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.len, v);
    this.len += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.len, v, true);
    this.len += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.len, v, true);
    this.len += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.len, v, true);
    this.len += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }
  u64(v: bigint | number): void {
    this.reserve(8);
    this.view.setBigUint64(this.len, BigInt(v), true);
    this.len += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.len, v, true);
    this.len += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  string(s: string): void {
    const b = encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const n = (alignment - (this.len % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }
  result(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.len);
  }
}

function checkInt(v: number, lo: number, hi: number, what: string): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${what}: ${v} is not an integer in ${lo}..${hi}`);
  }
}

function writeValue(s: Sink, v: GgufValue, what: string): void {
  switch (v.type) {
    case "uint8":
      checkInt(v.value, 0, 0xff, what);
      return s.u8(v.value);
    case "int8":
      checkInt(v.value, -0x80, 0x7f, what);
      return s.i8(v.value);
    case "uint16":
      checkInt(v.value, 0, 0xffff, what);
      return s.u16(v.value);
    case "int16":
      checkInt(v.value, -0x8000, 0x7fff, what);
      return s.i16(v.value);
    case "uint32":
      checkInt(v.value, 0, 0xffffffff, what);
      return s.u32(v.value);
    case "int32":
      checkInt(v.value, -0x80000000, 0x7fffffff, what);
      return s.i32(v.value);
    case "float32":
      return s.f32(v.value);
    case "float64":
      return s.f64(v.value);
    case "uint64":
      if (v.value < 0n || v.value >= 1n << 64n) {
        throw new RangeError(`${what}: ${v.value} out of range`);
      }
      return s.u64(v.value);
    case "int64":
      if (v.value < -(1n << 63n) || v.value >= 1n << 63n) {
        throw new RangeError(`${what}: ${v.value} out of range`);
      }
      return s.i64(v.value);
    case "bool":
      return s.u8(v.value ? 1 : 0);
    case "string":
      return s.string(v.value);
    case "array":
      s.u32(GGUF_VALUE_TYPE_IDS[v.itemType]);
      s.u64(v.value.length);
      v.value.forEach((item, i) => {
        if (item.type !== v.itemType) {
          throw new TypeError(`${what}[${i}] is a ${item.type}, the array holds ${v.itemType}`);
        }
        writeValue(s, item, `${what}[${i}]`);
      });
  }
}

/**
 * Writes a GGUF v3 file that ggml's reader accepts and {@link readGguf} reads back equal.
 *
 * @param opts metadata, tensors and alignment
 * @returns the file bytes
 * @throws {RangeError|TypeError} for invalid input (duplicate names, wrong data length, ...)
 * @example
 * ```ts
 * import { writeGguf } from "./gguf_writer.ts";
 * import { GgmlType } from "./ggml_types.ts";
 * import { quantize } from "./quant.ts";
 * const w = new Float32Array([0.5, -1, 2, 4]);
 * const bytes = writeGguf({
 *   metadata: [["general.architecture", { type: "string", value: "demo" }]],
 *   tensors: [{ name: "w", ne: [4], type: GgmlType.F32, data: quantize(GgmlType.F32, w) }],
 * });
 * console.log(bytes.length % 32); // 0
 * ```
 */
export function writeGguf(opts: GgufWriteOptions): Uint8Array<ArrayBuffer> {
  const metadata = [...opts.metadata];
  const keys = new Set<string>();
  for (const [k] of metadata) {
    if (keys.has(k)) throw new RangeError(`Duplicate metadata key '${k}'`);
    keys.add(k);
  }
  const metaAlign = metadata.find(([k]) => k === "general.alignment")?.[1];
  if (metaAlign && metaAlign.type !== "uint32") {
    throw new TypeError(`general.alignment must be a uint32, got a ${metaAlign.type}`);
  }
  const alignment = opts.alignment ?? (metaAlign?.value as number | undefined) ??
    GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`Alignment must be a power of two, got ${alignment}`);
  }
  if (metaAlign && metaAlign.value !== alignment) {
    throw new RangeError(
      `Alignment ${alignment} disagrees with general.alignment ${metaAlign.value}`,
    );
  }
  if (!metaAlign && alignment !== GGUF_DEFAULT_ALIGNMENT) {
    metadata.push(["general.alignment", { type: "uint32", value: alignment }]);
  }

  const names = new Set<string>();
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of opts.tensors) {
    if (names.has(t.name)) throw new RangeError(`Duplicate tensor name '${t.name}'`);
    names.add(t.name);
    if (encoder.encode(t.name).length > GGUF_MAX_TENSOR_NAME) {
      throw new RangeError(`Tensor name '${t.name}' is longer than ${GGUF_MAX_TENSOR_NAME} bytes`);
    }
    if (!isGgmlType(t.type)) throw new RangeError(`Tensor '${t.name}': unsupported type ${t.type}`);
    if (t.ne.length < 1 || t.ne.length > GGUF_MAX_DIMS) {
      throw new RangeError(
        `Tensor '${t.name}': needs 1 to ${GGUF_MAX_DIMS} dims, got ${t.ne.length}`,
      );
    }
    t.ne.forEach((d, i) => checkInt(d, 1, Number.MAX_SAFE_INTEGER, `Tensor '${t.name}' ne[${i}]`));
    const size = tensorByteSize(t.type, t.ne);
    if (t.data.length !== size) {
      throw new RangeError(
        `Tensor '${t.name}': ${ggmlTypeName(t.type)} [${t.ne.join(", ")}] needs ${size} bytes, ` +
          `got ${t.data.length}`,
      );
    }
    offsets.push(dataSize);
    dataSize += Math.ceil(size / alignment) * alignment;
  }

  const s = new Sink();
  s.bytes(encoder.encode("GGUF"));
  s.u32(3);
  s.u64(opts.tensors.length);
  s.u64(metadata.length);
  for (const [k, v] of metadata) {
    s.string(k);
    s.u32(GGUF_VALUE_TYPE_IDS[v.type as GgufValueType]);
    writeValue(s, v, `'${k}'`);
  }
  opts.tensors.forEach((t, i) => {
    s.string(t.name);
    s.u32(t.ne.length);
    for (const d of t.ne) s.i64(BigInt(d));
    s.u32(t.type);
    s.u64(offsets[i]!);
  });
  s.padTo(alignment);
  s.reserve(dataSize);
  for (const t of opts.tensors) {
    s.bytes(t.data);
    s.padTo(alignment);
  }
  return s.result();
}

/** Shorthands for metadata values. */
export const gguf = {
  string: (value: string): GgufValue => ({ type: "string", value }),
  uint32: (value: number): GgufValue => ({ type: "uint32", value }),
  int32: (value: number): GgufValue => ({ type: "int32", value }),
  float32: (value: number): GgufValue => ({ type: "float32", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  uint64: (value: bigint): GgufValue => ({ type: "uint64", value }),
  int64: (value: bigint): GgufValue => ({ type: "int64", value }),
  uint8: (value: number): GgufValue => ({ type: "uint8", value }),
  uint16: (value: number): GgufValue => ({ type: "uint16", value }),
  float64: (value: number): GgufValue => ({ type: "float64", value }),
  /** An array of values of one type. */
  array: (itemType: GgufValueType, value: GgufValue[]): GgufValue => ({
    type: "array",
    itemType,
    value,
  }),
} as const;
