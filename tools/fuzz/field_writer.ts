/**
 * A little-endian byte sink that records where each integer field went, so that the fuzzer's
 * field-targeted mutations know the offsets of counts, lengths, dims and types in a seed.
 *
 * @module
 */
import type { Field, FieldKind } from "./types.ts";

/** Growable byte sink with a field map. */
export class FieldWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  /** Bytes written so far. */
  length = 0;
  /** Fields recorded so far. */
  readonly fields: Field[] = [];

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private mark(width: Field["width"], kind?: FieldKind, name?: string, be = false): void {
    if (kind !== undefined) {
      this.fields.push({ at: this.length, width, kind, name: name ?? kind, ...(be ? { be } : {}) });
    }
  }

  /** Raw bytes. */
  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  u8(v: number, kind?: FieldKind, name?: string): this {
    this.mark(1, kind, name);
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
    return this;
  }
  u16(v: number, kind?: FieldKind, name?: string): this {
    this.mark(2, kind, name);
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
    return this;
  }
  u32(v: number, kind?: FieldKind, name?: string): this {
    this.mark(4, kind, name);
    this.reserve(4);
    this.view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
    return this;
  }
  u32be(v: number, kind?: FieldKind, name?: string): this {
    this.mark(4, kind, name, true);
    this.reserve(4);
    this.view.setUint32(this.length, v >>> 0, false);
    this.length += 4;
    return this;
  }
  u64(v: number | bigint, kind?: FieldKind, name?: string): this {
    this.mark(8, kind, name);
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt.asUintN(64, BigInt(v)), true);
    this.length += 8;
    return this;
  }
  f32(v: number): this {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
    return this;
  }
  f64(v: number): this {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
    return this;
  }
  /** Zero bytes up to a multiple of `n`. */
  pad(n: number): this {
    const target = Math.ceil(this.length / n) * n;
    this.reserve(target - this.length);
    this.buf.fill(0, this.length, target);
    this.length = target;
    return this;
  }
  /** A copy of the bytes written. */
  build(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}
