/**
 * The seed's legacy ggml FC model file, as written by ggml's examples/mnist/convert-h5-to-ggml.py:
 * an int32 magic 0x67676d6c ("ggml"), then for each tensor of the PyTorch state dict, in order
 * (fc1.weight, fc1.bias, fc2.weight, fc2.bias): int32 n_dims, int32 dims in ggml ne order (the
 * squeezed PyTorch shape reversed), and the float32 data. All little-endian, no names, no padding.
 *
 * @module
 */
import { ByteReader } from "./byte_reader.ts";

/** One tensor of a legacy file. */
export interface LegacyTensor {
  name: string;
  /** Dims in ggml order, ne[0] fastest. */
  ne: number[];
  data: Float32Array;
}

/** The magic: "ggml" as a little-endian int32 (bytes 6c 6d 67 67). */
export const LEGACY_GGML_MAGIC = 0x67676d6c;
/** Names of the tensors of the seed FC file, in file order. */
export const LEGACY_FC_TENSOR_NAMES = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] as const;

/**
 * Whether `bytes` start with the legacy ggml magic.
 *
 * @param bytes file bytes
 * @returns true for 6c 6d 67 67
 */
export function isLegacyGgml(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x6c && bytes[1] === 0x6d && bytes[2] === 0x67 &&
    bytes[3] === 0x67;
}

/**
 * Parses the seed's legacy FC model file. Each size is checked against the bytes left.
 *
 * @param bytes the whole file
 * @param file the file name for error messages
 * @returns fc1.weight, fc1.bias, fc2.weight, fc2.bias (data copied out of `bytes`)
 * @throws {FormatError} on a wrong magic, bad dims, truncation or a tensor count other than 4
 * @example
 * ```ts
 * import { readLegacyGgml, writeLegacyGgml } from "./legacy.ts";
 * const t = (ne: number[]) => ({ ne, data: new Float32Array(ne.reduce((a, b) => a * b)) });
 * const bytes = writeLegacyGgml([t([3, 2]), t([2]), t([2, 4]), t([4])]);
 * console.log(readLegacyGgml(bytes).map((x) => `${x.name} [${x.ne}]`).join(", "));
 * // fc1.weight [3,2], fc1.bias [2], fc2.weight [2,4], fc2.bias [4]
 * ```
 */
export function readLegacyGgml(bytes: Uint8Array, file = "<memory>"): LegacyTensor[] {
  const r = new ByteReader(bytes, file);
  const magic = r.u32("magic");
  if (magic !== LEGACY_GGML_MAGIC) {
    throw r.error(
      "magic",
      "0x67676d6c ('lmgg' bytes of the legacy ggml format)",
      `0x${magic.toString(16)}`,
      0,
    );
  }
  const tensors: LegacyTensor[] = [];
  while (r.remaining > 0) {
    const i = tensors.length;
    const name = LEGACY_FC_TENSOR_NAMES[i];
    if (name === undefined) {
      throw r.error(
        "tensor count",
        `${LEGACY_FC_TENSOR_NAMES.length} tensors (${LEGACY_FC_TENSOR_NAMES.join(", ")})`,
        `more data (${r.remaining} bytes) after the last one`,
      );
    }
    const nDimsAt = r.pos;
    const nDims = r.i32(`${name} n_dims`);
    if (nDims < 1 || nDims > 4) throw r.error(`${name} n_dims`, "1 to 4", String(nDims), nDimsAt);
    const ne: number[] = [];
    for (let j = 0; j < nDims; j++) {
      const at = r.pos;
      const d = r.i32(`${name} ne[${j}]`);
      if (d < 1) throw r.error(`${name} ne[${j}]`, "a dim of at least 1", String(d), at);
      ne.push(d);
    }
    const n = ne.reduce((a, b) => a * b, 1); // at most (2^31)^4: no overflow to infinity
    if (n * 4 > r.remaining) {
      throw r.error(
        `${name} dims`,
        `dims whose float32 data fits in the ${r.remaining} bytes left`,
        `[${ne.join(", ")}] = ${n * 4} bytes`,
        nDimsAt,
      );
    }
    const raw = r.take(n * 4, `${name} data`);
    const data = new Float32Array(n);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let k = 0; k < n; k++) data[k] = dv.getFloat32(4 * k, true);
    tensors.push({ name, ne, data });
  }
  if (tensors.length !== LEGACY_FC_TENSOR_NAMES.length) {
    throw r.error(
      "tensor count",
      `${LEGACY_FC_TENSOR_NAMES.length} tensors (${LEGACY_FC_TENSOR_NAMES.join(", ")})`,
      String(tensors.length),
    );
  }
  return tensors;
}

/**
 * Writes tensors in the legacy format (byte-identical to convert-h5-to-ggml.py's output for the
 * same tensors).
 *
 * @param tensors dims in ggml order and float32 data, in file order
 * @returns the file bytes
 */
export function writeLegacyGgml(
  tensors: { ne: number[]; data: Float32Array }[],
): Uint8Array<ArrayBuffer> {
  let size = 4;
  for (const t of tensors) {
    const n = t.ne.reduce((a, b) => a * b, 1);
    if (t.ne.length < 1 || t.ne.length > 4 || t.data.length !== n) {
      throw new RangeError(
        `A legacy tensor needs 1 to 4 dims and ${n} values, got [${t.ne}] and ${t.data.length}`,
      );
    }
    size += 4 + 4 * t.ne.length + 4 * n;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let p = 0;
  dv.setInt32(p, LEGACY_GGML_MAGIC, true);
  p += 4;
  for (const t of tensors) {
    dv.setInt32(p, t.ne.length, true);
    p += 4;
    for (const d of t.ne) {
      dv.setInt32(p, d, true);
      p += 4;
    }
    for (let k = 0; k < t.data.length; k++, p += 4) dv.setFloat32(p, t.data[k]!, true);
  }
  return out;
}
