/**
 * A minimal protobuf wire-format encoder: enough to write ONNX models. Fields are appended in
 * the order they are written; a nested message is a {@link ProtoWriter} whose bytes are written
 * as a length-delimited field. Decoding is not needed (the exporter only writes).
 *
 * Wire types: 0 varint (int32/int64/enum/bool), 1 fixed64, 2 length-delimited (string, bytes,
 * nested message, packed repeated), 5 fixed32 (float).
 *
 * @module
 */

/** Protobuf wire types (the low 3 bits of a field key). */
export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 } as const;

const encoder = new TextEncoder();

/**
 * Builds one protobuf message, field by field.
 *
 * @example
 * ```ts
 * import { ProtoWriter } from "./protobuf.ts";
 * const inner = new ProtoWriter().int(1, 150);
 * const bytes = new ProtoWriter().string(1, "hi").message(3, inner).finish();
 * console.log(bytes); // Uint8Array [10, 2, 104, 105, 26, 3, 8, 150, 1]
 * ```
 */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  /** Number of bytes written so far. */
  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /**
   * Appends a base-128 varint. Negative numbers are written as 64-bit two's complement (ten
   * bytes), as protobuf does for int32 and int64.
   *
   * @param value an integer (number or bigint) in the int64/uint64 range
   * @returns this writer
   */
  varint(value: number | bigint): this {
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(`varint: ${value} is not a safe integer`);
      }
      if (value >= 0 && value < 2 ** 31) {
        // Fast path: fits in 32-bit bitwise arithmetic.
        let v = value;
        while (v >= 0x80) {
          this.byte((v & 0x7f) | 0x80);
          v >>>= 7;
        }
        this.byte(v);
        return this;
      }
      value = BigInt(value);
    }
    if (value < -(1n << 63n) || value >= 1n << 64n) {
      throw new RangeError(`varint: ${value} is outside the 64-bit range`);
    }
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
    return this;
  }

  /** Appends a field key: `(field << 3) | wireType`. */
  key(field: number, wireType: number): this {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) {
      throw new RangeError(`protobuf field number ${field} is out of range`);
    }
    return this.varint(field * 8 + wireType);
  }

  /** Appends raw bytes (no key, no length). */
  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  /**
   * Writes an integer field (int32, int64, uint64, enum) as a varint.
   *
   * @param field the field number
   * @param value the value
   * @returns this writer
   */
  int(field: number, value: number | bigint): this {
    return this.key(field, WireType.VARINT).varint(value);
  }

  /** Writes a float field (fixed32, little-endian IEEE 754). */
  float(field: number, value: number): this {
    this.key(field, WireType.FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
    return this;
  }

  /** Writes a bytes field (length-delimited). */
  bytes(field: number, value: Uint8Array): this {
    return this.key(field, WireType.LEN).varint(value.length).raw(value);
  }

  /** Writes a string field as UTF-8 (length-delimited). */
  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  /** Writes a nested message (length-delimited). */
  message(field: number, value: ProtoWriter): this {
    return this.key(field, WireType.LEN).varint(value.len).raw(value.buf.subarray(0, value.len));
  }

  /** Writes a packed repeated varint field (e.g. `repeated int64 ... [packed = true]`). */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const body = new ProtoWriter();
    for (const v of values) body.varint(v);
    return this.key(field, WireType.LEN).varint(body.len).raw(body.buf.subarray(0, body.len));
  }

  /** Writes a packed repeated float field: four little-endian bytes per value. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const body = new Uint8Array(values.length * 4);
    const view = new DataView(body.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return this.bytes(field, body);
  }

  /** The encoded message (a copy, so the writer may be reused). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
