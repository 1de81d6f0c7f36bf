/**
 * Packs constant arrays into one little-endian byte blob at 16-byte-aligned offsets: the
 * weights section of an emitted module (decoded once at load, copied into WASM memory or
 * viewed as a Float32Array by the TS backend).
 *
 * @module
 */

/** Accumulates f32 arrays; {@link WeightBlob.add} returns each one's byte offset. */
export class WeightBlob {
  private readonly parts: Float32Array[] = [];
  private size = 0;

  /**
   * Appends `values`, 16-byte aligned.
   *
   * @param values the floats
   * @returns byte offset of the first float in the blob
   */
  add(values: Float32Array): number {
    const pad = (16 - (this.size % 16)) % 16;
    if (pad) {
      this.parts.push(new Float32Array(pad / 4));
      this.size += pad;
    }
    const at = this.size;
    this.parts.push(values);
    this.size += values.byteLength;
    return at;
  }

  /** Total bytes so far (a multiple of 4). */
  get byteLength(): number {
    return this.size;
  }

  /** The blob, padded to a multiple of 16 bytes. */
  bytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.size / 16) * 16);
    const f = new Float32Array(out.buffer);
    let at = 0;
    for (const p of this.parts) {
      f.set(p, at);
      at += p.length;
    }
    return out;
  }
}
