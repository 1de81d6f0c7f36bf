/**
 * The ggml tensor types ggufc reads and writes, with their block layout (ggml's
 * `ggml-common.h`): how many elements one block holds and how many bytes it takes.
 *
 * @module
 */

/** Storage type of a tensor by its ggml type name (the names `ggml_type_name` prints). */
export type WeightType = "f32" | "f16" | "bf16" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q8_0";

/** ggml tensor type ids as stored in GGUF tensor infos (`enum ggml_type`). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  BF16 = 30,
}

/** Block layout of one supported type. */
export interface GgmlTypeInfo {
  /** Lower-case name, as the IR calls it. */
  readonly name: WeightType;
  /** Elements per block (1 for plain floats, 32 for the Q types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

// Q blocks: Q4_0 {f16 d; u8 qs[16]}, Q4_1 {f16 d, m; u8 qs[16]}, Q5_0 {f16 d; u8 qh[4]; u8 qs[16]},
// Q5_1 {f16 d, m; u8 qh[4]; u8 qs[16]}, Q8_0 {f16 d; i8 qs[32]}.
const INFO: Readonly<Record<GgmlType, GgmlTypeInfo>> = {
  [GgmlType.F32]: { name: "f32", blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { name: "f16", blockSize: 1, typeSize: 2 },
  [GgmlType.Q4_0]: { name: "q4_0", blockSize: 32, typeSize: 18 },
  [GgmlType.Q4_1]: { name: "q4_1", blockSize: 32, typeSize: 20 },
  [GgmlType.Q5_0]: { name: "q5_0", blockSize: 32, typeSize: 22 },
  [GgmlType.Q5_1]: { name: "q5_1", blockSize: 32, typeSize: 24 },
  [GgmlType.Q8_0]: { name: "q8_0", blockSize: 32, typeSize: 34 },
  [GgmlType.BF16]: { name: "bf16", blockSize: 1, typeSize: 2 },
};

/** Names of ggml types that exist but ggufc does not support, for error messages. */
const OTHER_GGML_TYPES: Readonly<Record<number, string>> = {
  9: "q8_1",
  10: "q2_K",
  11: "q3_K",
  12: "q4_K",
  13: "q5_K",
  14: "q6_K",
  15: "q8_K",
  16: "iq2_xxs",
  17: "iq2_xs",
  18: "iq3_xxs",
  19: "iq1_s",
  20: "iq4_nl",
  21: "iq3_s",
  22: "iq2_s",
  23: "iq4_xs",
  24: "i8",
  25: "i16",
  26: "i32",
  27: "i64",
  28: "f64",
  29: "iq1_m",
  34: "tq1_0",
  35: "tq2_0",
  39: "mxfp4",
};

/** All supported types, in id order. */
export const SUPPORTED_GGML_TYPES: readonly GgmlType[] = Object.keys(INFO).map(Number).sort((
  a,
  b,
) => a - b);

/**
 * Whether `id` is a type ggufc supports.
 *
 * @param id a type id read from a file
 * @returns true for F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
 */
export function isGgmlType(id: number): id is GgmlType {
  return Object.hasOwn(INFO, id);
}

/**
 * Describes a type id for an error message: "q4_K (12)" or "unknown (77)".
 *
 * @param id any type id
 * @returns its ggml name and id
 */
export function describeGgmlTypeId(id: number): string {
  const name = isGgmlType(id) ? INFO[id].name : OTHER_GGML_TYPES[id] ?? "unknown";
  return `${name} (${id})`;
}

/**
 * The block layout of a supported type.
 *
 * @param t the type
 * @returns name, elements per block, bytes per block
 */
export function ggmlTypeInfo(t: GgmlType): GgmlTypeInfo {
  const info = INFO[t];
  if (!info) throw new RangeError(`Unsupported ggml type ${describeGgmlTypeId(t)}`);
  return info;
}

/**
 * The IR's name of a type.
 *
 * @param t the type
 * @returns "f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1" or "q8_0"
 * @example
 * ```ts
 * import { GgmlType, ggmlTypeName } from "./ggml_types.ts";
 * console.log(ggmlTypeName(GgmlType.Q8_0)); // "q8_0"
 * ```
 */
export function ggmlTypeName(t: GgmlType): WeightType {
  return ggmlTypeInfo(t).name;
}

/**
 * The type with the IR name `name`.
 *
 * @param name a {@link WeightType}
 * @returns the ggml type id
 */
export function ggmlTypeFromName(name: WeightType): GgmlType {
  for (const t of SUPPORTED_GGML_TYPES) if (INFO[t].name === name) return t;
  throw new RangeError(`Unknown weight type '${name}'`);
}

/**
 * Bytes of a tensor of `type` with dims `ne` (ggml order, ne[0] fastest), as ggml_nbytes gives
 * for a contiguous tensor. Rows (ne[0]) must hold whole blocks.
 *
 * @param type the tensor type
 * @param ne the dims, ne[0] fastest
 * @returns the byte size
 * @example
 * ```ts
 * import { GgmlType, tensorByteSize } from "./ggml_types.ts";
 * console.log(tensorByteSize(GgmlType.Q8_0, [64, 3])); // 2 blocks per row * 34 bytes * 3 rows = 204
 * ```
 */
export function tensorByteSize(type: GgmlType, ne: readonly number[]): number {
  const { blockSize, typeSize } = ggmlTypeInfo(type);
  const ne0 = ne[0] ?? 1;
  if (ne0 % blockSize !== 0) {
    throw new RangeError(
      `A ${ggmlTypeName(type)} row needs a multiple of ${blockSize} elements, ne[0] is ${ne0}`,
    );
  }
  let rows = 1;
  for (let i = 1; i < ne.length; i++) rows *= ne[i]!;
  return (ne0 / blockSize) * typeSize * rows;
}
