/**
 * The one heavy kernel of training: a strided GEMM that accumulates into C,
 *
 *   C[i*ldc + j] += sum_k A[i*sai + k*sak] * B[k*ldb + j]      (i < M, j < N, k < K)
 *
 * With (sai, sak) = (K, 1) it is A·B, with (1, lda) it is Aᵀ·B; B and C are always row-major,
 * so im2col convolution, its weight gradient and its input gradient are all this one call.
 *
 * Two implementations with the same summation order (C first, then k = 0, 1, ...; each product
 * rounded to f32, then added): a WASM SIMD micro-kernel (4 rows × 8 columns of accumulators,
 * hand-assembled below; used for the part of C whose rows and columns come in fours when all
 * arrays live in the kernel's memory) and a plain loop. f32 products and sums are IEEE-exact in both, so they agree bit for bit.
 *
 * @module
 */
import {
  CTRL,
  finishJob,
  jobF64,
  newControlBlock,
  postJob,
  spawnGemmWorker,
  stopWorker,
} from "./gemm_threads.ts";

/** Anything the GEMM can run on: f32 arrays (training) or f64 arrays (gradient checks). */
export type Vec = Float32Array | Float64Array;

/** A GEMM implementation (see the module doc for the formula). */
export interface Gemm extends ReluMask {
  /**
   * @param c output, accumulated into
   * @param a left operand, element (i, k) at i*sai + k*sak
   * @param b right operand, element (k, j) at k*ldb + j
   * @param m rows of C
   * @param n columns of C
   * @param k the summed dimension
   * @param sai row stride of A
   * @param sak column stride of A
   * @param ldb row stride of B
   * @param ldc row stride of C
   */
  gemm(
    c: Vec,
    a: Vec,
    b: Vec,
    m: number,
    n: number,
    k: number,
    sai: number,
    sak: number,
    ldb: number,
    ldc: number,
  ): void;
  /**
   * The same product as {@link Gemm.gemm}, bit for bit, for an A with many zeros: their products
   * are skipped. Skipping is exact because an accumulator that does not start as -0 never becomes
   * -0 (round to nearest), so adding a ±0 product leaves it unchanged; hence the conditions: no
   * element of C is -0 on entry and B is finite (0·∞ would be NaN). Training meets both (C is a
   * bias or a zeroed gradient).
   *
   * @param scratch kernel memory for A in CSR form, {@link sparseScratchSize} floats
   */
  gemmSparseA(
    c: Vec,
    a: Vec,
    b: Vec,
    m: number,
    n: number,
    k: number,
    sai: number,
    sak: number,
    ldb: number,
    ldc: number,
    scratch: Float32Array,
  ): void;
}

/** ReLU and its gradient as one select: `dst[i] = y[i] > 0 ? src[i] : +0` for i < len. */
export interface ReluMask {
  reluMask(dst: Vec, src: Vec, y: Vec, len: number): void;
}

/** @returns floats of scratch {@link Gemm.gemmSparseA} needs for an m × k A */
export function sparseScratchSize(m: number, k: number): number {
  return m + 1 + 3 + 2 * (m * k + 3);
}

/** The plain-loop GEMM (f32 rounding per operation on Float32Array, f64 on Float64Array). */
export const jsGemm: Gemm = {
  gemm(c, a, b, m, n, k, sai, sak, ldb, ldc) {
    const f32 = c instanceof Float32Array;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = c[i * ldc + j]!;
        let pa = i * sai;
        let pb = j;
        if (f32) {
          for (let p = 0; p < k; p++, pa += sak, pb += ldb) {
            acc = Math.fround(acc + Math.fround(a[pa]! * b[pb]!));
          }
        } else {
          for (let p = 0; p < k; p++, pa += sak, pb += ldb) acc += a[pa]! * b[pb]!;
        }
        c[i * ldc + j] = acc;
      }
    }
  },
  gemmSparseA(c, a, b, m, n, k, sai, sak, ldb, ldc) {
    // The plain loop adds A's zero products too; the result is the same (see the interface).
    this.gemm(c, a, b, m, n, k, sai, sak, ldb, ldc);
  },
  reluMask(dst, src, y, len) {
    for (let i = 0; i < len; i++) dst[i] = y[i]! > 0 ? src[i]! : 0;
  },
};

// ---------------------------------------------------------------------------------------------
// A tiny WASM assembler: just the opcodes the micro-kernel uses.

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const enum Op {
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  I32Load = 0x28,
  F32Load = 0x2a,
  I32Store = 0x36,
  F32Store = 0x38,
  F32Ne = 0x5c,
  I32Const = 0x41,
  F32Const = 0x43,
  I32Eqz = 0x45,
  I32GtS = 0x4a,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  I32And = 0x71,
  I32Shl = 0x74,
  I32ShrU = 0x76,
  F32Add = 0x92,
  F32Mul = 0x94,
  Simd = 0xfd,
}
const SIMD_LOAD = 0x00, SIMD_STORE = 0x0b, F32X4_SPLAT = 0x13, F32X4_ADD = 0xe4, F32X4_MUL = 0xe6;
const F64X2_SPLAT = 0x14, LOAD64_ZERO = 0x5d, STORE64_LANE = 0x5b, F32X4_DEMOTE_F64X2 = 0x5e;
const F64X2_PROMOTE_F32X4 = 0x5f, F64X2_SQRT = 0xef, F64X2_ADD = 0xf0, F64X2_SUB = 0xf1;
const F64X2_MUL = 0xf2, F64X2_DIV = 0xf3, F64 = 0x7c, F32X4_GT = 0x44, V128_AND = 0x4e;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function str(s: string): number[] {
  return [...uleb(s.length), ...new TextEncoder().encode(s)];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

class Body {
  readonly b: number[] = [];
  get(l: number) {
    this.b.push(Op.LocalGet, ...uleb(l));
  }
  set(l: number) {
    this.b.push(Op.LocalSet, ...uleb(l));
  }
  i32(v: number) {
    this.b.push(Op.I32Const, ...sleb(v));
  }
  op(...ops: number[]) {
    this.b.push(...ops);
  }
  simd(code: number) {
    this.b.push(Op.Simd, ...uleb(code));
  }
  /** local l = local l + constant d */
  addConst(l: number, d: number) {
    this.get(l), this.i32(d), this.op(Op.I32Add), this.set(l);
  }
  /** local l = local l + local d */
  addTo(l: number, d: number) {
    this.get(l), this.get(d), this.op(Op.I32Add), this.set(l);
  }
  v128Load(ptr: number, offset: number) {
    this.get(ptr), this.simd(SIMD_LOAD), this.b.push(4, ...uleb(offset));
  }
  /** stores local v at ptr + offset */
  v128Store(ptr: number, offset: number, v: number) {
    this.get(ptr), this.get(v), this.simd(SIMD_STORE), this.b.push(4, ...uleb(offset));
  }
}

// Parameters (all i32 bytes): c, a, b, m, n, k, sai, sak, ldb, ldc (strides already ×4).
const P_C = 0, P_A = 1, P_B = 2, P_M = 3, P_N = 4, P_K = 5, P_SAI = 6, P_SAK = 7, P_LDB = 8;
const P_LDC = 9;
// i32 locals
const L_I = 10, L_J = 11, L_K = 12, L_PA = 13, L_PB = 17, L_PC = 18, L_AROW = 22, L_CROW = 23;
// v128 locals: 8 accumulators, 2 B vectors, 1 splat
const V_ACC = 24, V_B = 32, V_A = 34;

/** Emits the block for `vecs` (2 or 1) vectors of columns at column j; advances j. */
function emitBlock(f: Body, vecs: number): void {
  // pc_r = crow + j*4 + r*ldc; pa_r = arow + r*sai; pb = b + j*4
  f.get(L_CROW), f.get(L_J), f.i32(4), f.op(Op.I32Mul), f.op(Op.I32Add), f.set(L_PC);
  for (let r = 1; r < 4; r++) {
    f.get(L_PC + r - 1), f.get(P_LDC), f.op(Op.I32Add), f.set(L_PC + r);
  }
  f.get(L_AROW), f.set(L_PA);
  for (let r = 1; r < 4; r++) {
    f.get(L_PA + r - 1), f.get(P_SAI), f.op(Op.I32Add), f.set(L_PA + r);
  }
  f.get(P_B), f.get(L_J), f.i32(4), f.op(Op.I32Mul), f.op(Op.I32Add), f.set(L_PB);
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < vecs; v++) f.v128Load(L_PC + r, 16 * v), f.set(V_ACC + 2 * r + v);
  }
  f.get(P_K), f.set(L_K);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(L_K), f.op(Op.I32Eqz, Op.BrIf, 1);
  for (let v = 0; v < vecs; v++) f.v128Load(L_PB, 16 * v), f.set(V_B + v);
  for (let r = 0; r < 4; r++) {
    f.get(L_PA + r), f.op(Op.F32Load, 2, 0), f.simd(F32X4_SPLAT), f.set(V_A);
    for (let v = 0; v < vecs; v++) {
      const acc = V_ACC + 2 * r + v;
      f.get(acc), f.get(V_A), f.get(V_B + v), f.simd(F32X4_MUL), f.simd(F32X4_ADD), f.set(acc);
    }
  }
  for (let r = 0; r < 4; r++) f.addTo(L_PA + r, P_SAK);
  f.addTo(L_PB, P_LDB);
  f.get(L_K), f.i32(1), f.op(Op.I32Sub), f.set(L_K);
  f.op(Op.Br, 0, Op.End, Op.End);
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < vecs; v++) f.v128Store(L_PC + r, 16 * v, V_ACC + 2 * r + v);
  }
  f.get(L_J), f.i32(4 * vecs), f.op(Op.I32Add), f.set(L_J);
}

/** The dense kernel `gemm` (see {@link GemmFn}). */
function emitGemm(): number[] {
  const f = new Body();
  f.i32(0), f.set(L_I);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  // if (i >= m) break  ->  if !(m > i)
  f.get(P_M), f.get(L_I), f.op(Op.I32GtS, Op.I32Eqz, Op.BrIf, 1);
  f.get(P_A), f.get(L_I), f.get(P_SAI), f.op(Op.I32Mul, Op.I32Add), f.set(L_AROW);
  f.get(P_C), f.get(L_I), f.get(P_LDC), f.op(Op.I32Mul, Op.I32Add), f.set(L_CROW);
  f.i32(0), f.set(L_J);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  // if (j + 8 > n) break
  f.get(L_J), f.i32(8), f.op(Op.I32Add), f.get(P_N), f.op(Op.I32GtS, Op.BrIf, 1);
  emitBlock(f, 2);
  f.op(Op.Br, 0, Op.End, Op.End);
  // if (n > j) one 4-column block (n % 4 == 0 is the caller's promise)
  f.get(P_N), f.get(L_J), f.op(Op.I32GtS, Op.If, 0x40);
  emitBlock(f, 1);
  f.op(Op.End);
  f.get(L_I), f.i32(4), f.op(Op.I32Add), f.set(L_I);
  f.op(Op.Br, 0, Op.End, Op.End);
  return funcBody([[14, I32], [11, V128]], f);
}

function funcBody(locals: [number, number][], f: Body): number[] {
  const decl = [...uleb(locals.length), ...locals.flatMap(([n, t]) => [...uleb(n), t])];
  return [...uleb(decl.length + f.b.length + 1), ...decl, ...f.b, Op.End];
}

// spmm parameters (i32, bytes): c, rowptr, idx, val, b, r0, r1, n, ldc
const S_C = 0, S_RP = 1, S_IDX = 2, S_VAL = 3, S_B = 4, S_R0 = 5, S_R1 = 6, S_N = 7, S_LDC = 8;
// spmm locals: 8 i32, 8 accumulators and the splat (v128), an f32 accumulator for last columns
const S_J = 9, S_I = 10, S_PC = 11, S_T = 12, S_TEND = 13, S_COLB = 14, S_N4 = 15, S_PB = 16;
const S_ACC = 17, S_A = 25, S_FACC = 26;

/**
 * Rows r0..r1 of `C += A·B` for one column block at j, `vecs` vectors of 4 wide (or one column
 * with scalar f32 ops when vecs is 0), A given as CSR: the products of A's zeros are skipped, the
 * others rounded and added in increasing k exactly as the dense kernel does.
 */
function emitSparseRows(f: Body, vecs: number): void {
  f.get(S_B), f.get(S_J), f.i32(4), f.op(Op.I32Mul, Op.I32Add), f.set(S_COLB);
  f.get(S_R0), f.set(S_I);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(S_R1), f.get(S_I), f.op(Op.I32GtS, Op.I32Eqz, Op.BrIf, 1);
  f.get(S_C), f.get(S_I), f.get(S_LDC), f.op(Op.I32Mul, Op.I32Add);
  f.get(S_J), f.i32(4), f.op(Op.I32Mul, Op.I32Add), f.set(S_PC);
  if (vecs > 0) {
    for (let v = 0; v < vecs; v++) f.v128Load(S_PC, 16 * v), f.set(S_ACC + v);
  } else {
    f.get(S_PC), f.op(Op.F32Load, 2, 0), f.set(S_FACC);
  }
  // t = rowptr[i] * 4, tend = rowptr[i + 1] * 4: byte offsets into idx and val
  f.get(S_RP), f.get(S_I), f.i32(4), f.op(Op.I32Mul, Op.I32Add), f.set(S_T);
  f.get(S_T), f.op(Op.I32Load, 2, 4), f.i32(4), f.op(Op.I32Mul), f.set(S_TEND);
  f.get(S_T), f.op(Op.I32Load, 2, 0), f.i32(4), f.op(Op.I32Mul), f.set(S_T);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(S_TEND), f.get(S_T), f.op(Op.I32GtS, Op.I32Eqz, Op.BrIf, 1);
  // pb = colb + idx[t] (idx holds the byte offset of B's row k)
  f.get(S_COLB), f.get(S_IDX), f.get(S_T), f.op(Op.I32Add, Op.I32Load, 2, 0, Op.I32Add);
  f.set(S_PB);
  if (vecs > 0) {
    f.get(S_VAL), f.get(S_T), f.op(Op.I32Add, Op.F32Load, 2, 0), f.simd(F32X4_SPLAT), f.set(S_A);
    for (let v = 0; v < vecs; v++) {
      f.get(S_ACC + v), f.get(S_A), f.v128Load(S_PB, 16 * v);
      f.simd(F32X4_MUL), f.simd(F32X4_ADD), f.set(S_ACC + v);
    }
  } else {
    f.get(S_FACC), f.get(S_VAL), f.get(S_T), f.op(Op.I32Add, Op.F32Load, 2, 0);
    f.get(S_PB), f.op(Op.F32Load, 2, 0, Op.F32Mul, Op.F32Add), f.set(S_FACC);
  }
  f.get(S_T), f.i32(4), f.op(Op.I32Add), f.set(S_T);
  f.op(Op.Br, 0, Op.End, Op.End);
  if (vecs > 0) {
    for (let v = 0; v < vecs; v++) f.v128Store(S_PC, 16 * v, S_ACC + v);
  } else {
    f.get(S_PC), f.get(S_FACC), f.op(Op.F32Store, 2, 0);
  }
  f.get(S_I), f.i32(1), f.op(Op.I32Add), f.set(S_I);
  f.op(Op.Br, 0, Op.End, Op.End);
}

/** The sparse-A kernel `spmm` (see {@link SpmmFn}): column blocks of 32, 8, 4, then 1. */
function emitSpmm(): number[] {
  const f = new Body();
  f.get(S_N), f.i32(-4), f.op(Op.I32And), f.set(S_N4);
  f.i32(0), f.set(S_J);
  for (const [vecs, width] of [[8, 32], [2, 8], [1, 4]] as const) {
    // while (j + width <= n4) { rows; j += width }
    f.op(Op.Block, 0x40, Op.Loop, 0x40);
    f.get(S_J), f.i32(width), f.op(Op.I32Add), f.get(S_N4), f.op(Op.I32GtS, Op.BrIf, 1);
    emitSparseRows(f, vecs);
    f.get(S_J), f.i32(width), f.op(Op.I32Add), f.set(S_J);
    f.op(Op.Br, 0, Op.End, Op.End);
  }
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(S_N), f.get(S_J), f.op(Op.I32GtS, Op.I32Eqz, Op.BrIf, 1);
  emitSparseRows(f, 0);
  f.get(S_J), f.i32(1), f.op(Op.I32Add), f.set(S_J);
  f.op(Op.Br, 0, Op.End, Op.End);
  return funcBody([[8, I32], [9, V128], [1, F32]], f);
}

// adam parameters: w, g (f32), m, v (f64) byte pointers, count (even); then f64 a, b1, c1, b2,
// c2, eps (locals 5..10). Locals: 6 splats and 3 temporaries (v128).
const D_W = 0, D_G = 1, D_M = 2, D_V = 3, D_N = 4, D_A = 5;
const D_SPLAT = 11, D_G2 = 17, D_M2 = 18, D_V2 = 19;

/**
 * The Adam update `adam` (see {@link AdamFn}), two parameters at a time in f64 with the same
 * operations in the same order as the plain loop, so it agrees with it bit for bit.
 */
function emitAdam(): number[] {
  const f = new Body();
  for (let s = 0; s < 6; s++) f.get(D_A + s), f.simd(F64X2_SPLAT), f.set(D_SPLAT + s);
  const [sa, sb1, sc1, sb2, sc2, seps] = [0, 1, 2, 3, 4, 5].map((s) => D_SPLAT + s);
  const mem64 = (ptr: number, code: number) => (f.get(ptr), f.simd(code), f.b.push(3, 0));
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(D_N), f.op(Op.I32Eqz, Op.BrIf, 1);
  mem64(D_G, LOAD64_ZERO), f.simd(F64X2_PROMOTE_F32X4), f.set(D_G2);
  // m = b1*m + c1*g
  f.get(D_M);
  f.get(sb1), f.v128Load(D_M, 0), f.simd(F64X2_MUL);
  f.get(sc1), f.get(D_G2), f.simd(F64X2_MUL), f.simd(F64X2_ADD);
  f.b.push(Op.LocalTee, ...uleb(D_M2)), f.simd(SIMD_STORE), f.b.push(4, 0);
  // v = b2*v + (c2*g)*g
  f.get(D_V);
  f.get(sb2), f.v128Load(D_V, 0), f.simd(F64X2_MUL);
  f.get(sc2), f.get(D_G2), f.simd(F64X2_MUL), f.get(D_G2), f.simd(F64X2_MUL), f.simd(F64X2_ADD);
  f.b.push(Op.LocalTee, ...uleb(D_V2)), f.simd(SIMD_STORE), f.b.push(4, 0);
  // w = f32(w - (a*m) / (sqrt(v) + eps))
  f.get(D_W);
  mem64(D_W, LOAD64_ZERO), f.simd(F64X2_PROMOTE_F32X4);
  f.get(sa), f.get(D_M2), f.simd(F64X2_MUL);
  f.get(D_V2), f.simd(F64X2_SQRT), f.get(seps), f.simd(F64X2_ADD), f.simd(F64X2_DIV);
  f.simd(F64X2_SUB), f.simd(F32X4_DEMOTE_F64X2);
  f.simd(STORE64_LANE), f.b.push(3, 0, 0);
  f.addConst(D_W, 8), f.addConst(D_G, 8), f.addConst(D_M, 16), f.addConst(D_V, 16);
  f.addConst(D_N, -2);
  f.op(Op.Br, 0, Op.End, Op.End);
  return funcBody([[9, V128]], f);
}

// csr parameters (i32, bytes): a, m, k, sai, sak, ldb, rowptr, idx, val; locals i, p, pa, off, t
const R_A = 0, R_M = 1, R_K = 2, R_SAI = 3, R_SAK = 4, R_LDB = 5, R_RP = 6, R_IDX = 7, R_VAL = 8;
const R_I = 9, R_P = 10, R_PA = 11, R_OFF = 12, R_T = 13, R_V = 14;

/**
 * The CSR builder `csr` (see {@link CsrFn}): every element of A is written to the next idx/val
 * slot, and the slot advances only when it is not zero (no branch on the data).
 */
function emitCsr(): number[] {
  const f = new Body();
  const storeRowptr = () => {
    f.get(R_RP), f.get(R_I), f.i32(4), f.op(Op.I32Mul, Op.I32Add);
    f.get(R_T), f.i32(2), f.op(Op.I32ShrU, Op.I32Store, 2, 0);
  };
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(R_M), f.get(R_I), f.op(Op.I32GtS, Op.I32Eqz, Op.BrIf, 1);
  storeRowptr();
  f.get(R_A), f.get(R_I), f.get(R_SAI), f.op(Op.I32Mul, Op.I32Add), f.set(R_PA);
  f.i32(0), f.set(R_P), f.i32(0), f.set(R_OFF);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(R_K), f.get(R_P), f.op(Op.I32GtS, Op.I32Eqz, Op.BrIf, 1);
  f.get(R_PA), f.op(Op.F32Load, 2, 0), f.set(R_V);
  f.get(R_IDX), f.get(R_T), f.op(Op.I32Add), f.get(R_OFF), f.op(Op.I32Store, 2, 0);
  f.get(R_VAL), f.get(R_T), f.op(Op.I32Add), f.get(R_V), f.op(Op.F32Store, 2, 0);
  // t += (v != 0) * 4: NaN counts as non-zero (its products are not skipped), -0 as zero
  f.get(R_T), f.get(R_V), f.b.push(Op.F32Const, 0, 0, 0, 0), f.op(Op.F32Ne);
  f.i32(2), f.op(Op.I32Shl, Op.I32Add), f.set(R_T);
  f.addTo(R_PA, R_SAK), f.addTo(R_OFF, R_LDB), f.addConst(R_P, 1);
  f.op(Op.Br, 0, Op.End, Op.End);
  f.addConst(R_I, 1);
  f.op(Op.Br, 0, Op.End, Op.End);
  storeRowptr();
  f.get(R_T), f.i32(2), f.op(Op.I32ShrU);
  return funcBody([[5, I32], [1, F32]], f);
}

// mask parameters (i32): dst, src, y (bytes), count (a multiple of 4); local: the zero vector
const K_DST = 0, K_SRC = 1, K_Y = 2, K_N = 3, K_ZERO = 4;

/** The ReLU select `mask` (see {@link ReluMask}): `src & (y > 0)` lane-wise, so +0 elsewhere. */
function emitMask(): number[] {
  const f = new Body();
  f.b.push(Op.F32Const, 0, 0, 0, 0), f.simd(F32X4_SPLAT), f.set(K_ZERO);
  f.op(Op.Block, 0x40, Op.Loop, 0x40);
  f.get(K_N), f.op(Op.I32Eqz, Op.BrIf, 1);
  f.get(K_DST), f.v128Load(K_SRC, 0), f.v128Load(K_Y, 0), f.get(K_ZERO), f.simd(F32X4_GT);
  f.simd(V128_AND), f.simd(SIMD_STORE), f.b.push(4, 0);
  f.addConst(K_DST, 16), f.addConst(K_SRC, 16), f.addConst(K_Y, 16), f.addConst(K_N, -4);
  f.op(Op.Br, 0, Op.End, Op.End);
  return funcBody([[1, V128]], f);
}

/**
 * @param shared whether the imported memory is shared (worker threads)
 * @param pages memory size in 64 KiB pages (the import's limits must match the memory's)
 * @returns the WASM module bytes of the kernels: `gemm`, `spmm`, `adam`, `csr` and `mask`
 */
export function buildGemmModule(shared: boolean, pages: number): Uint8Array<ArrayBuffer> {
  const types = [
    [0x60, 10, ...Array(10).fill(I32), 0],
    [0x60, 9, ...Array(9).fill(I32), 0],
    [0x60, 11, ...Array(5).fill(I32), ...Array(6).fill(F64), 0],
    [0x60, 9, ...Array(9).fill(I32), 1, I32],
    [0x60, 4, ...Array(4).fill(I32), 0],
  ];
  const names = ["gemm", "spmm", "adam", "csr", "mask"];
  const bodies = [emitGemm(), emitSpmm(), emitAdam(), emitCsr(), emitMask()];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [types.length, ...types.flat()]),
    ...section(2, [
      1,
      ...str("env"),
      ...str("mem"),
      0x02,
      ...(shared ? [0x03, ...uleb(pages), ...uleb(pages)] : [0x00, ...uleb(1)]),
    ]),
    ...section(3, [5, 0, 1, 2, 3, 4]),
    ...section(7, [5, ...names.flatMap((n, i) => [...str(n), 0x00, i])]),
    ...section(10, [5, ...bodies.flat()]),
  ]);
}

/** Rows of B (columns of A) per kernel call; see {@link WasmKernels.gemm}. */
const K_CHUNK = 256;

/** The raw kernel: byte pointers and byte strides. */
export type GemmFn = (
  c: number,
  a: number,
  b: number,
  m: number,
  n: number,
  k: number,
  sai: number,
  sak: number,
  ldb: number,
  ldc: number,
) => void;

/**
 * Runs the kernel in chunks of the summed dimension, which keep the A and B panels in cache. C
 * holds the running sum between chunks, so the summation order (and every rounding) is the same
 * as in one call. Pointers and strides in bytes.
 */
export function gemmChunked(
  fn: GemmFn,
  c: number,
  a: number,
  b: number,
  m: number,
  n: number,
  k: number,
  sai: number,
  sak: number,
  ldb: number,
  ldc: number,
): void {
  for (let k0 = 0; k0 < k; k0 += K_CHUNK) {
    fn(c, a + k0 * sak, b + k0 * ldb, m, n, Math.min(K_CHUNK, k - k0), sai, sak, ldb, ldc);
  }
}

/** The raw sparse kernel: rows r0..r1 of `C += A·B`, A as CSR (bytes; idx = B row offsets). */
export type SpmmFn = (
  c: number,
  rowptr: number,
  idx: number,
  val: number,
  b: number,
  r0: number,
  r1: number,
  n: number,
  ldc: number,
) => void;

/** The raw Adam update of `count` (even) parameters; pointers in bytes, then the f64 factors. */
export type AdamFn = (
  w: number,
  g: number,
  m: number,
  v: number,
  count: number,
  a: number,
  b1: number,
  c1: number,
  b2: number,
  c2: number,
  eps: number,
) => void;

/**
 * The raw CSR builder: A (m × k, strides sai/sak, bytes) into rowptr (element indices), idx (k ×
 * ldb, the byte offset of B's row) and val; returns the number of non-zeros.
 */
export type CsrFn = (
  a: number,
  m: number,
  k: number,
  sai: number,
  sak: number,
  ldb: number,
  rowptr: number,
  idx: number,
  val: number,
) => number;

/** The kernels of one instance. */
export interface KernelFns {
  readonly gemm: GemmFn;
  readonly spmm: SpmmFn;
  readonly adam: AdamFn;
  readonly csr: CsrFn;
  readonly mask: (dst: number, src: number, y: number, count: number) => void;
}

/** @returns the kernels instantiated on `memory` */
export function instantiateKernels(
  memory: WebAssembly.Memory,
  shared: boolean,
  pages: number,
): KernelFns {
  const mod = new WebAssembly.Module(buildGemmModule(shared, pages));
  const e = new WebAssembly.Instance(mod, { env: { mem: memory } }).exports;
  return {
    gemm: e.gemm as GemmFn,
    spmm: e.spmm as SpmmFn,
    adam: e.adam as AdamFn,
    csr: e.csr as CsrFn,
    mask: e.mask as KernelFns["mask"],
  };
}

/** What a worker job computes: its first Int32 argument. */
export const JOB = { GEMM: 0, SPMM: 1, ADAM: 2 } as const;

/** Runs one job from its Int32 and f64 argument slots (on a worker). */
export function runJob(k: KernelFns, a: Int32Array, f: Float64Array): void {
  if (a[0] === JOB.GEMM) {
    gemmChunked(k.gemm, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!);
  } else if (a[0] === JOB.SPMM) {
    k.spmm(a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!);
  } else {
    k.adam(a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!);
  }
}

/** Work below this many multiply-adds stays on the calling thread. */
const PARALLEL_MIN = 1 << 18;
/** Adam updates of fewer parameters stay on the calling thread. */
const ADAM_PARALLEL_MIN = 1 << 14;

/**
 * A fixed-size WASM memory plus the SIMD GEMM over it. Training buffers are allocated here
 * (bump allocator, 16-byte aligned, no growth), so the kernel runs on them without copies.
 *
 * With `threads > 1` the memory is shared with worker threads, and each large GEMM is split by
 * rows of C (in fours): every element of C is still computed by the same instruction sequence,
 * so results are bit-identical for any thread count. Create it with {@link WasmKernels.create}
 * (workers must start first) and {@link WasmKernels.close} it when done.
 *
 * @example
 * ```ts
 * import { WasmKernels } from "./gemm.ts";
 * const w = new WasmKernels(1 << 20);
 * const a = w.alloc(16), b = w.alloc(16), c = w.alloc(16);
 * a.fill(1), b.fill(2);
 * w.gemm(c, a, b, 4, 4, 4, 4, 1, 4, 4); // c = a·b: every element 8
 * ```
 */
export class WasmKernels implements Gemm {
  readonly memory: WebAssembly.Memory;
  readonly #buf: ArrayBufferLike;
  readonly #k: KernelFns;
  #top = 0;
  #workers: { worker: Worker; ctrl: Int32Array; f64: Float64Array }[] = [];

  /**
   * A single-threaded kernel set.
   *
   * @param bytes memory size in bytes (rounded up to 64 KiB pages)
   * @param shared make the memory shared (used by {@link WasmKernels.create})
   */
  constructor(bytes: number, shared = false) {
    const pages = Math.ceil(bytes / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    this.#buf = this.memory.buffer;
    this.#k = instantiateKernels(this.memory, shared, pages);
  }

  /**
   * Kernels that use `threads` threads in all (the caller's plus `threads - 1` workers).
   *
   * @param bytes memory size in bytes
   * @param threads total threads (1 = no workers)
   * @returns the kernels, once every worker is ready
   */
  static async create(bytes: number, threads: number): Promise<WasmKernels> {
    if (threads <= 1) return new WasmKernels(bytes);
    const k = new WasmKernels(bytes, true);
    const pages = Math.ceil(bytes / 65536);
    const ready: Promise<void>[] = [];
    for (let t = 1; t < threads; t++) {
      const ctrl = newControlBlock();
      const w = spawnGemmWorker(k.memory, pages, ctrl);
      ready.push(w.ready);
      k.#workers.push({ worker: w.worker, ctrl, f64: jobF64(ctrl) });
    }
    await Promise.all(ready);
    return k;
  }

  /** Threads in use (1 + workers). */
  get threads(): number {
    return 1 + this.#workers.length;
  }

  /** Stops the workers (the kernels stay usable on one thread). */
  close(): void {
    for (const { worker, ctrl } of this.#workers) {
      stopWorker(ctrl);
      worker.terminate();
    }
    this.#workers = [];
  }

  /**
   * @param n number of floats
   * @returns a zeroed Float32Array view into the kernel memory
   */
  alloc(n: number): Float32Array {
    const start = this.#top;
    const end = start + ((n * 4 + 15) & ~15);
    if (end > this.#buf.byteLength) {
      throw new Error(`WasmKernels: out of memory (${end} > ${this.#buf.byteLength} bytes)`);
    }
    this.#top = end;
    return new Float32Array(this.#buf, start, n);
  }

  /** Bytes allocated so far. */
  get used(): number {
    return this.#top;
  }

  /** {@inheritDoc Gemm.gemm} */
  gemm(
    c: Vec,
    a: Vec,
    b: Vec,
    m: number,
    n: number,
    k: number,
    sai: number,
    sak: number,
    ldb: number,
    ldc: number,
  ): void {
    const buf = this.#buf;
    const m4 = m & ~3, n4 = n & ~3;
    if (
      m4 === 0 || n4 === 0 || !(c instanceof Float32Array) || !(a instanceof Float32Array) ||
      !(b instanceof Float32Array) || c.buffer !== buf || a.buffer !== buf || b.buffer !== buf
    ) {
      jsGemm.gemm(c, a, b, m, n, k, sai, sak, ldb, ldc);
      return;
    }
    const args = [
      c.byteOffset,
      a.byteOffset,
      b.byteOffset,
      m4,
      n4,
      k,
      sai * 4,
      sak * 4,
      ldb * 4,
      ldc * 4,
    ] as const;
    const parts = this.#workers.length > 0 && m4 * n4 * k >= PARALLEL_MIN
      ? Math.min(this.threads, m4 >> 2)
      : 1;
    // Rows [0, m4) in `parts` slices of whole fours; slice 0 runs here, the others on workers.
    const slice = (t: number) => (((m4 >> 2) * t / parts) | 0) * 4;
    const seqs: number[] = [];
    for (let t = 1; t < parts; t++) {
      const { ctrl } = this.#workers[t - 1]!;
      const r0 = slice(t), r1 = slice(t + 1);
      seqs.push(postJob(ctrl, [
        JOB.GEMM,
        c.byteOffset + r0 * ldc * 4,
        a.byteOffset + r0 * sai * 4,
        args[2],
        r1 - r0,
        ...args.slice(4),
      ]));
    }
    gemmChunked(
      this.#k.gemm,
      args[0],
      args[1],
      args[2],
      slice(1),
      ...args.slice(4) as [number, number, number, number, number, number],
    );
    // Edges the 4×4-granular kernel cannot cover run as plain loops; each element is computed
    // the same way either path, so the split does not change any result bit.
    if (n4 < n) jsGemm.gemm(c.subarray(n4), a, b.subarray(n4), m4, n - n4, k, sai, sak, ldb, ldc);
    if (m4 < m) {
      jsGemm.gemm(c.subarray(m4 * ldc), a.subarray(m4 * sai), b, m - m4, n, k, sai, sak, ldb, ldc);
    }
    for (let t = 1; t < parts; t++) this.#finish(t - 1, seqs[t - 1]!);
  }
  /**
   * @param n number of doubles
   * @returns a zeroed Float64Array view into the kernel memory
   */
  alloc64(n: number): Float64Array {
    const f = this.alloc(2 * n);
    return new Float64Array(this.#buf, f.byteOffset, n);
  }

  /** Completes job `seq` of worker `w`: here if the worker has not started it (see gemm_threads). */
  #finish(w: number, seq: number): void {
    const { ctrl, f64 } = this.#workers[w]!;
    finishJob(ctrl, seq, () => runJob(this.#k, ctrl.subarray(CTRL.ARGS, CTRL.SIZE), f64));
  }

  #inMemory(...vs: Vec[]): boolean {
    return vs.every((v) => v instanceof Float32Array && v.buffer === this.#buf);
  }

  /** {@inheritDoc Gemm.gemmSparseA} */
  gemmSparseA(
    c: Vec,
    a: Vec,
    b: Vec,
    m: number,
    n: number,
    k: number,
    sai: number,
    sak: number,
    ldb: number,
    ldc: number,
    scratch: Float32Array,
  ): void {
    if (!this.#inMemory(c, a, b, scratch) || scratch.length < sparseScratchSize(m, k)) {
      jsGemm.gemm(c, a, b, m, n, k, sai, sak, ldb, ldc);
      return;
    }
    // CSR of A in the scratch: rowptr[m + 1], then idx (byte offset of B's row) and val.
    const buf = this.#buf, base = scratch.byteOffset;
    const rp = new Int32Array(buf, base, m + 1);
    const idxAt = base + ((m + 1) * 4 + 15 & ~15), valAt = idxAt + (m * k * 4 + 15 & ~15);
    const t = this.#k.csr(a.byteOffset, m, k, sai * 4, sak * 4, ldb * 4, base, idxAt, valAt);
    const parts = this.#workers.length > 0 && t * n >= PARALLEL_MIN ? this.threads : 1;
    // Rows split so that each part gets about the same number of products.
    let r = 0;
    const bounds = [0];
    for (let p = 1; p < parts; p++) {
      while (r < m && rp[r]! < (t * p) / parts) r++;
      bounds.push(r);
    }
    bounds.push(m);
    const job = (r0: number, r1: number) =>
      [c.byteOffset, base, idxAt, valAt, b.byteOffset, r0, r1, n, ldc * 4] as const;
    const seqs: number[] = [];
    for (let p = 1; p < parts; p++) {
      seqs.push(
        postJob(this.#workers[p - 1]!.ctrl, [JOB.SPMM, ...job(bounds[p]!, bounds[p + 1]!)]),
      );
    }
    this.#k.spmm(...job(0, bounds[1]!));
    for (let p = 1; p < parts; p++) this.#finish(p - 1, seqs[p - 1]!);
  }

  /** {@inheritDoc ReluMask.reluMask} */
  reluMask(dst: Vec, src: Vec, y: Vec, len: number): void {
    let from = 0;
    if (this.#inMemory(dst, src, y)) {
      from = len & ~3;
      this.#k.mask(dst.byteOffset, src.byteOffset, y.byteOffset, from);
    }
    for (let i = from; i < len; i++) dst[i] = y[i]! > 0 ? src[i]! : 0;
  }

  /**
   * One Adam update of parameters `w` with gradient `g` and f64 moments `m`, `v` (see adam.ts for
   * the formula), on all threads when large. Arrays outside the kernel memory are not accepted.
   *
   * @param f the f64 factors a, b1, c1, b2, c2, eps
   * @param js the plain loop over [from, to), for an odd last element
   */
  adam(
    w: Float32Array,
    g: Float32Array,
    m: Float64Array,
    v: Float64Array,
    f: readonly [number, number, number, number, number, number],
    js: (from: number, to: number) => void,
  ): void {
    const len = w.length, even = len & ~1;
    const parts = this.#workers.length > 0 && even >= ADAM_PARALLEL_MIN ? this.threads : 1;
    const cut = (p: number) => Math.floor((even / 2) * p / parts) * 2;
    const job = (from: number, to: number) =>
      [
        w.byteOffset + from * 4,
        g.byteOffset + from * 4,
        m.byteOffset + from * 8,
        v.byteOffset + from * 8,
        to - from,
      ] as const;
    const seqs: number[] = [];
    for (let p = 1; p < parts; p++) {
      const { ctrl, f64 } = this.#workers[p - 1]!;
      f64.set(f);
      seqs.push(postJob(ctrl, [JOB.ADAM, ...job(cut(p), cut(p + 1))]));
    }
    this.#k.adam(...job(0, cut(1)), ...f);
    if (even < len) js(even, len);
    for (let p = 1; p < parts; p++) this.#finish(p - 1, seqs[p - 1]!);
  }
}
