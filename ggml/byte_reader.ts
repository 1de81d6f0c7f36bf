/**
 * A bounds-checked little-endian cursor over a byte array. Every read checks the bytes left
 * first and throws a {@link FormatError} naming the field, so a truncated file never yields
 * garbage and never makes a reader allocate from an unchecked count.
 *
 * @module
 */
import { FormatError } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads made by every ByteReader (one per field read), for tests that bound the work a reader
 * does on a hostile file: a loop driven by an unchecked count shows up as millions of reads.
 */
export const byteReaderCounters = { reads: 0 };

/** Little-endian cursor over `bytes` that names `file` in its errors. */
export class ByteReader {
  readonly view: DataView;
  /** Current byte offset into `bytes`. */
  pos = 0;

  /**
   * @param bytes the whole file
   * @param file the file name used in error messages
   */
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes between the cursor and the end of the file. */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Throws unless `n` more bytes are available for `field`. */
  need(n: number, field: string): void {
    byteReaderCounters.reads++;
    if (n > this.remaining) {
      throw new FormatError(
        this.file,
        this.pos,
        field,
        `${n} more bytes`,
        `only ${this.remaining} left (file is truncated)`,
      );
    }
  }

  /** A {@link FormatError} at the current position (or `at`). */
  error(field: string, expected: string, found: string, at = this.pos): FormatError {
    return new FormatError(this.file, at, field, expected, found);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }
  i8(field: string): number {
    this.need(1, field);
    return this.view.getInt8(this.pos++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(field: string): number {
    this.need(4, field);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(field: string): number {
    this.need(8, field);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A u64 that must fit in a JS number and be at most `max` (e.g. the bytes left): counts and
   * lengths go through here before anything is allocated from them.
   */
  u64Bounded(field: string, max: number, what = "at most"): number {
    const at = this.pos;
    const v = this.u64(field);
    if (v > BigInt(max)) throw this.error(field, `${what} ${max}`, v.toString(), at);
    return Number(v);
  }

  /** A u32 at most `max`, as {@link u64Bounded}. */
  u32Bounded(field: string, max: number, what = "at most"): number {
    const at = this.pos;
    const v = this.u32(field);
    if (v > max) throw this.error(field, `${what} ${max}`, v.toString(), at);
    return v;
  }

  /** `n` raw bytes as a view (no copy). */
  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** `n` bytes decoded as UTF-8; invalid UTF-8 is a format error. */
  utf8(n: number, field: string): string {
    const at = this.pos;
    const raw = this.take(n, field);
    try {
      return utf8.decode(raw);
    } catch {
      throw this.error(field, "valid UTF-8", "invalid byte sequence", at);
    }
  }
}
