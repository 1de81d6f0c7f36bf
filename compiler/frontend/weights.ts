/**
 * Named weight tensors from any supported model file, with the checks every frontend needs:
 * a tensor must exist, have the expected shape, and one of the allowed types.
 *
 * @module
 */
import { FormatError } from "../../ggml/errors.ts";
import type { WeightType } from "../ir/graph.ts";

/** One weight as a frontend sees it: shape in ggml order, type, exact f32 values. */
export interface WeightTensor {
  readonly name: string;
  readonly ne: readonly number[];
  readonly type: WeightType;
  /** Byte offset of the tensor's data (or header) in the file, for error messages. */
  readonly fileOffset: number;
  /** Dequantised values, computed on first use. */
  values(): Float32Array;
}

/** The weights of one model file, looked up by name. */
export class WeightSet {
  private readonly byName = new Map<string, WeightTensor>();

  /**
   * @param file the file name, for errors
   * @param tensors the file's tensors
   */
  constructor(readonly file: string, tensors: readonly WeightTensor[]) {
    for (const t of tensors) this.byName.set(t.name, t);
  }

  /** True when every name is present. */
  hasAll(names: readonly string[]): boolean {
    return names.every((n) => this.byName.has(n));
  }

  /** All tensor names, in file order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * The tensor `name`, checked against an expected shape (`undefined` entries are free; a
   * shorter actual shape is padded with 1s) and a set of allowed types.
   */
  get(
    name: string,
    expected: readonly (number | undefined)[],
    types: readonly WeightType[] = ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"],
  ): WeightTensor {
    const t = this.byName.get(name);
    if (!t) {
      throw new FormatError(this.file, 0, `tensor '${name}'`, "present", "missing");
    }
    // Compare as four dims: missing trailing dims are 1 on both sides, as in ggml.
    const actual = [0, 1, 2, 3].map((i) => t.ne[i] ?? 1);
    const want4 = [0, 1, 2, 3].map((i) => (i < expected.length ? expected[i] : 1));
    const ok = t.ne.length <= 4 && want4.every((e, i) => e === undefined || e === actual[i]);
    if (!ok) {
      const want = `[${expected.map((e) => e ?? "*").join(",")}]`;
      throw new FormatError(
        this.file,
        t.fileOffset,
        `tensor '${name}' ne`,
        want,
        `[${t.ne.join(",")}]`,
      );
    }
    if (!types.includes(t.type)) {
      throw new FormatError(
        this.file,
        t.fileOffset,
        `tensor '${name}' type`,
        types.join(" or "),
        t.type,
      );
    }
    return t;
  }

  /**
   * The values of `t`, refusing NaN and infinities: a model holding them is corrupt, and the
   * compiled kernels (SIMD max) and ggml's relu (NaN -> 0) disagree on NaN, so no result
   * would be right.
   */
  finiteValues(t: WeightTensor): Float32Array {
    const values = t.values();
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new FormatError(
          this.file,
          t.fileOffset,
          `tensor '${t.name}' element ${i}`,
          "a finite number",
          String(values[i]),
        );
      }
    }
    return values;
  }
}
