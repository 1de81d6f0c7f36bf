/**
 * A tiny byte builder for crafting GGUF (and other) test files by hand, independent of
 * ggufc's writer so that tests can catch writer bugs. Every method appends little-endian
 * bytes and returns `this`; `at()` gives the current offset for asserting error positions.
 *
 * @module
 */

export class Bytes {
  private parts: number[] = [];

  /** Current length = offset of the next byte. */
  at(): number {
    return this.parts.length;
  }
  raw(...b: number[]): this {
    this.parts.push(...b);
    return this;
  }
  u8(v: number): this {
    return this.raw(v & 0xff);
  }
  u16(v: number): this {
    return this.raw(v & 0xff, (v >>> 8) & 0xff);
  }
  u32(v: number): this {
    return this.raw(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  u32be(v: number): this {
    return this.raw((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  u64(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(x & 0xffn));
      x >>= 8n;
    }
    return this;
  }
  f32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.raw(...b);
  }
  f64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    return this.raw(...b);
  }
  /** A GGUF string: u64 length (u32 when `v1`) then the UTF-8 bytes. */
  str(s: string, v1 = false): this {
    const b = new TextEncoder().encode(s);
    if (v1) this.u32(b.length);
    else this.u64(b.length);
    return this.raw(...b);
  }
  /** Zero bytes up to a multiple of `n`. */
  pad(n: number): this {
    while (this.parts.length % n !== 0) this.parts.push(0);
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** A GGUF header: magic, version, tensor and kv counts (u32 counts for v1). */
export function ggufHeader(version: number, nTensors: number, nKv: number): Bytes {
  const b = new Bytes().raw(0x47, 0x47, 0x55, 0x46).u32(version);
  if (version === 1) return b.u32(nTensors).u32(nKv);
  return b.u64(nTensors).u64(nKv);
}

/** Appends a tensor info (v2/v3 layout: u64 dims). */
export function tensorInfo(
  b: Bytes,
  name: string,
  ne: number[],
  type: number,
  offset: number,
): Bytes {
  b.str(name).u32(ne.length);
  for (const d of ne) b.u64(d);
  return b.u32(type).u64(offset);
}

/**
 * A complete v3 file with one kv-free header and the given tensors, data concatenated in order
 * with zero padding to `alignment` (32 when no general.alignment is written).
 */
export function simpleGguf(
  tensors: { name: string; ne: number[]; type: number; data: number[] }[],
  alignment = 32,
): Uint8Array {
  const b = ggufHeader(3, tensors.length, alignment === 32 ? 0 : 1);
  if (alignment !== 32) b.str("general.alignment").u32(4).u32(alignment);
  let off = 0;
  for (const t of tensors) {
    tensorInfo(b, t.name, t.ne, t.type, off);
    off += Math.ceil(t.data.length / alignment) * alignment;
  }
  b.pad(alignment);
  for (const t of tensors) b.raw(...t.data).pad(alignment);
  return b.build();
}
