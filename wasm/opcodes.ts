/**
 * Every WebAssembly encoding number the project writes, named once: value types, module
 * structure (sections, import/export kinds, limits), the one-byte core opcodes, the 0xfc
 * bulk-memory sub-opcodes and the 0xfd SIMD sub-opcodes (SIMD128 and relaxed SIMD).
 *
 * Numbers are from the WebAssembly core specification 2.0 (binary format, chapter 5.4
 * "Instructions") and the relaxed-SIMD proposal (now part of WebAssembly 3.0), whose opcodes
 * follow SIMD128's at 0x100. The table holds what the kernels emit, not the whole instruction
 * set; `tests/wasm_assembler_test.ts` checks each entry against the spec's number and validates
 * a module using every SIMD entry.
 *
 * @module
 */

/** Value types (spec 5.3.1). */
export const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
/** A value type byte. */
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

/** Type constructors: a function type, and the empty block type of `block`/`loop`/`if`. */
export const TYPE = { func: 0x60, emptyBlock: 0x40 } as const;

/** The module preamble: `\0asm` and version 1. */
export const PREAMBLE: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** Section ids, in the order they must appear. */
export const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  memory: 5,
  export: 7,
  code: 10,
  data: 11,
} as const;

/** A data segment's kind: active, in memory 0, at a constant offset (the only kind we write). */
export const DATA_ACTIVE_MEMORY0 = 0x00;

/** What an import or export names. */
export const EXTERN = { func: 0x00, memory: 0x02 } as const;

/** Flags of memory limits: min only, min and max, shared (min and max; threads proposal). */
export const LIMITS = { min: 0x00, minMax: 0x01, sharedMinMax: 0x03 } as const;

/** Core opcodes (one byte). */
export const OP = {
  // control
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  select: 0x1b,
  // variables
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  // memory (each followed by a memarg: log2 alignment, byte offset)
  i32Load: 0x28,
  f32Load: 0x2a,
  i32Store: 0x36,
  f32Store: 0x38,
  // constants
  i32Const: 0x41,
  f32Const: 0x43,
  f64Const: 0x44,
  // i32 comparisons
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GeU: 0x4f,
  // f32 comparisons
  f32Ne: 0x5c,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  // i32 arithmetic
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivU: 0x6e,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  // f32 / f64 arithmetic
  f32Nearest: 0x90,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f32Min: 0x96,
  f32Max: 0x97,
  f64Sub: 0xa1,
  // conversions
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
  i32ReinterpretF32: 0xbc,
  f32ReinterpretI32: 0xbe,
  // prefixes of the multi-byte opcodes below
  prefixFC: 0xfc,
  prefixSIMD: 0xfd,
} as const;

/** Sub-opcodes after the 0xfc prefix (saturating truncation, bulk memory). */
export const BULK = { i32TruncSatF32S: 0, memoryCopy: 10, memoryFill: 11 } as const;

/** Sub-opcodes after the 0xfd prefix (SIMD128, then relaxed SIMD from 0x100), LEB128-encoded. */
export const SIMD = {
  // memory (memarg follows)
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Store: 0x0b,
  v128Store64Lane: 0x5b, // memarg, then the lane index
  v128Load64Zero: 0x5d,
  // constant (16 bytes follow) and lane shuffles (16 lane indices follow)
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  // splats and lanes (lane index follows extract)
  f32x4Splat: 0x13,
  f64x2Splat: 0x14,
  f32x4ExtractLane: 0x1f,
  // comparisons and bitwise
  f32x4Gt: 0x44,
  f32x4Ge: 0x46,
  v128And: 0x4e,
  v128Or: 0x50,
  // f32 <-> f64 lanes
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  // integer lanes
  i8x16NarrowI16x8S: 0x65,
  i8x16NarrowI16x8U: 0x66,
  f32x4Trunc: 0x69,
  f32x4Nearest: 0x6a,
  i8x16ShrU: 0x6d,
  i8x16Sub: 0x71,
  i16x8NarrowI32x4S: 0x85,
  i16x8ExtendLowI8x16S: 0x87,
  i16x8ExtendHighI8x16S: 0x88,
  i32x4ExtendLowI16x8S: 0xa7,
  i32x4ExtendHighI16x8S: 0xa8,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  i32x4MaxS: 0xb8,
  i32x4DotI16x8S: 0xba,
  // f32 lanes
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  /** Pseudo-min/max (b < a ? b : a / a < b ? b : a): one x64 instruction, unlike min/max. */
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
  // f64 lanes
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  i32x4TruncSatF32x4S: 0xf8,
  f32x4ConvertI32x4S: 0xfa,
  // relaxed SIMD
  f32x4RelaxedMadd: 0x105,
  i32x4RelaxedDotI8x16I7x16AddS: 0x113,
} as const;
