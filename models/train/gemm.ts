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
 * assembled below with wasm/; used for the part of C whose rows and columns come in fours when
 * all arrays live in the kernel's memory) and a plain loop. f32 products and sums are IEEE-exact
 * in both, so they agree bit for bit.
 *
 * @module
 */
import { F32, F64, Fn, I32, ModuleBuilder, OP, SIMD, V128 } from "../../wasm/assembler.ts";
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
// The kernels, assembled with wasm/. Pointers and strides are i32 byte values; each kernel's
// parameters are named by index, its locals are declared (in the order below) with `f.local`.

/**
 * `while (!exit()) body()`, where `exit` pushes an i32 and a non-zero one ends the loop: block,
 * loop, exit, br_if 1, body, br 0, end, end.
 */
function loopUntil(f: Fn, exit: () => void, body: () => void): void {
  f.block(() =>
    f.loop(() => {
      exit();
      f.brIf(1);
      body();
      f.br(0);
    })
  );
}

// gemm parameters: c, a, b, m, n, k, sai, sak, ldb, ldc (see GemmFn; strides already ×4).
const P_C = 0, P_A = 1, P_B = 2, P_M = 3, P_N = 4, P_K = 5, P_SAI = 6, P_SAK = 7, P_LDB = 8;
const P_LDC = 9;

/** Declares the gemm kernel's locals: 14 i32, then 11 v128. */
function gemmLocals(f: Fn) {
  const i32 = () => f.local(I32), v128 = () => f.local(V128);
  return {
    /** Row i and column j of the block; k still to sum. */
    i: i32(),
    j: i32(),
    kLeft: i32(),
    /** Pointers into the block's 4 rows of A, into B, into its 4 rows of C; row i of A and C. */
    pa: [i32(), i32(), i32(), i32()] as const,
    pb: i32(),
    pc: [i32(), i32(), i32(), i32()] as const,
    aRow: i32(),
    cRow: i32(),
    /** 4 rows × 2 vectors of accumulators (row r, vector v at 2r + v), 2 of B, A's splat. */
    acc: Array.from({ length: 8 }, v128),
    bv: [v128(), v128()] as const,
    av: v128(),
  };
}
type GemmLocals = ReturnType<typeof gemmLocals>;

/** Emits the 4-row block of `vecs` (2 or 1) vectors of 4 columns at column j; advances j. */
function emitBlock(f: Fn, L: GemmLocals, vecs: 1 | 2): void {
  const acc = (r: number, v: number) => L.acc[2 * r + v]!;
  // pc_r = crow + j*4 + r*ldc; pa_r = arow + r*sai; pb = b + j*4
  f.get(L.cRow).index(L.j, 4).op(OP.i32Add).set(L.pc[0]);
  for (let r = 1; r < 4; r++) f.get(L.pc[r - 1]!).get(P_LDC).op(OP.i32Add).set(L.pc[r]!);
  f.get(L.aRow).set(L.pa[0]);
  for (let r = 1; r < 4; r++) f.get(L.pa[r - 1]!).get(P_SAI).op(OP.i32Add).set(L.pa[r]!);
  f.get(P_B).index(L.j, 4).op(OP.i32Add).set(L.pb);
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < vecs; v++) f.v128LoadFrom(L.pc[r]!, 16 * v).set(acc(r, v));
  }
  f.get(P_K).set(L.kLeft);
  loopUntil(f, () => f.get(L.kLeft).op(OP.i32Eqz), () => {
    for (let v = 0; v < vecs; v++) f.v128LoadFrom(L.pb, 16 * v).set(L.bv[v]!);
    for (let r = 0; r < 4; r++) {
      f.get(L.pa[r]!).f32Load().simd(SIMD.f32x4Splat).set(L.av);
      for (let v = 0; v < vecs; v++) {
        f.get(acc(r, v)).get(L.av).get(L.bv[v]!).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add);
        f.set(acc(r, v));
      }
    }
    for (let r = 0; r < 4; r++) f.incBy(L.pa[r]!, P_SAK);
    f.incBy(L.pb, P_LDB);
    f.get(L.kLeft).i32(1).op(OP.i32Sub).set(L.kLeft);
  });
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < vecs; v++) f.v128StoreTo(L.pc[r]!, 16 * v, acc(r, v));
  }
  f.inc(L.j, 4 * vecs);
}

/** The dense kernel `gemm` (see {@link GemmFn}): rows in fours, columns in eights then a four. */
function emitGemm(): Fn {
  const f = new Fn(Array(10).fill(I32), []);
  const L = gemmLocals(f);
  f.i32(0).set(L.i);
  // while (m > i)
  loopUntil(f, () => f.get(P_M).get(L.i).op(OP.i32GtS, OP.i32Eqz), () => {
    f.get(P_A).get(L.i).get(P_SAI).op(OP.i32Mul, OP.i32Add).set(L.aRow);
    f.get(P_C).get(L.i).get(P_LDC).op(OP.i32Mul, OP.i32Add).set(L.cRow);
    f.i32(0).set(L.j);
    // while (j + 8 <= n)
    loopUntil(f, () => f.get(L.j).addConst(8).get(P_N).op(OP.i32GtS), () => emitBlock(f, L, 2));
    // if (n > j) one 4-column block (n % 4 == 0 is the caller's promise)
    f.get(P_N).get(L.j).op(OP.i32GtS).if(() => emitBlock(f, L, 1));
    f.inc(L.i, 4);
  });
  return f;
}

// spmm parameters: c, rowptr, idx, val, b, r0, r1, n, ldc (see SpmmFn).
const S_C = 0, S_RP = 1, S_IDX = 2, S_VAL = 3, S_B = 4, S_R0 = 5, S_R1 = 6, S_N = 7, S_LDC = 8;

/** Declares the spmm kernel's locals: 8 i32, 9 v128, 1 f32. */
function spmmLocals(f: Fn) {
  const i32 = () => f.local(I32), v128 = () => f.local(V128);
  return {
    /** Column j of the block, row i. */
    j: i32(),
    i: i32(),
    /** Pointer into row i of C at column j. */
    pc: i32(),
    /** The row's non-zeros as byte offsets into idx and val: t runs up to tEnd. */
    t: i32(),
    tEnd: i32(),
    /** B at column j (row 0), n rounded down to a multiple of 4, B at row k and column j. */
    colB: i32(),
    n4: i32(),
    pb: i32(),
    /** Up to 8 vectors of accumulators, the splat of A's value; the one-column accumulator. */
    acc: Array.from({ length: 8 }, v128),
    av: v128(),
    facc: f.local(F32),
  };
}
type SpmmLocals = ReturnType<typeof spmmLocals>;

/**
 * Rows r0..r1 of `C += A·B` for one column block at j, `vecs` vectors of 4 wide (or one column
 * with scalar f32 ops when vecs is 0), A given as CSR: the products of A's zeros are skipped, the
 * others rounded and added in increasing k exactly as the dense kernel does.
 */
function emitSparseRows(f: Fn, L: SpmmLocals, vecs: number): void {
  f.get(S_B).index(L.j, 4).op(OP.i32Add).set(L.colB);
  f.get(S_R0).set(L.i);
  // while (r1 > i)
  loopUntil(f, () => f.get(S_R1).get(L.i).op(OP.i32GtS, OP.i32Eqz), () => {
    f.get(S_C).get(L.i).get(S_LDC).op(OP.i32Mul, OP.i32Add).index(L.j, 4).op(OP.i32Add);
    f.set(L.pc);
    if (vecs > 0) {
      for (let v = 0; v < vecs; v++) f.v128LoadFrom(L.pc, 16 * v).set(L.acc[v]!);
    } else {
      f.get(L.pc).f32Load().set(L.facc);
    }
    // t = rowptr[i] * 4, tEnd = rowptr[i + 1] * 4: byte offsets into idx and val
    f.get(S_RP).index(L.i, 4).op(OP.i32Add).set(L.t);
    f.get(L.t).i32Load(4).mulConst(4).set(L.tEnd);
    f.get(L.t).i32Load().mulConst(4).set(L.t);
    // while (tEnd > t)
    loopUntil(f, () => f.get(L.tEnd).get(L.t).op(OP.i32GtS, OP.i32Eqz), () => {
      // pb = colB + idx[t] (idx holds the byte offset of B's row k)
      f.get(L.colB).get(S_IDX).get(L.t).op(OP.i32Add).i32Load().op(OP.i32Add).set(L.pb);
      if (vecs > 0) {
        f.get(S_VAL).get(L.t).op(OP.i32Add).f32Load().simd(SIMD.f32x4Splat).set(L.av);
        for (let v = 0; v < vecs; v++) {
          f.get(L.acc[v]!).get(L.av).v128LoadFrom(L.pb, 16 * v);
          f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(L.acc[v]!);
        }
      } else {
        f.get(L.facc).get(S_VAL).get(L.t).op(OP.i32Add).f32Load();
        f.get(L.pb).f32Load().op(OP.f32Mul, OP.f32Add).set(L.facc);
      }
      f.inc(L.t, 4);
    });
    if (vecs > 0) {
      for (let v = 0; v < vecs; v++) f.v128StoreTo(L.pc, 16 * v, L.acc[v]!);
    } else {
      f.get(L.pc).get(L.facc).f32Store();
    }
    f.inc(L.i, 1);
  });
}

/** The sparse-A kernel `spmm` (see {@link SpmmFn}): column blocks of 32, 8, 4, then 1. */
function emitSpmm(): Fn {
  const f = new Fn(Array(9).fill(I32), []);
  const L = spmmLocals(f);
  f.get(S_N).i32(-4).op(OP.i32And).set(L.n4);
  f.i32(0).set(L.j);
  for (const [vecs, width] of [[8, 32], [2, 8], [1, 4]] as const) {
    // while (j + width <= n4) { rows; j += width }
    loopUntil(f, () => f.get(L.j).addConst(width).get(L.n4).op(OP.i32GtS), () => {
      emitSparseRows(f, L, vecs);
      f.inc(L.j, width);
    });
  }
  // while (n > j) { one column; j += 1 }
  loopUntil(f, () => f.get(S_N).get(L.j).op(OP.i32GtS, OP.i32Eqz), () => {
    emitSparseRows(f, L, 0);
    f.inc(L.j, 1);
  });
  return f;
}

// adam parameters: w, g (f32), m, v (f64) pointers, count (even); then the f64 factors a, b1,
// c1, b2, c2, eps (see AdamFn).
const D_W = 0, D_G = 1, D_M = 2, D_V = 3, D_N = 4, D_FACTORS = 5;

/**
 * The Adam update `adam` (see {@link AdamFn}), two parameters at a time in f64 with the same
 * operations in the same order as the plain loop, so it agrees with it bit for bit.
 */
function emitAdam(): Fn {
  const f = new Fn([I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64], []);
  // v128 locals: the six factors splatted (in parameter order), then g, m and v of the pair.
  const sa = f.local(V128), sb1 = f.local(V128), sc1 = f.local(V128);
  const sb2 = f.local(V128), sc2 = f.local(V128), seps = f.local(V128);
  const g2 = f.local(V128), m2 = f.local(V128), v2 = f.local(V128);
  [sa, sb1, sc1, sb2, sc2, seps].forEach((s, i) => {
    f.get(D_FACTORS + i).simd(SIMD.f64x2Splat).set(s);
  });
  loopUntil(f, () => f.get(D_N).op(OP.i32Eqz), () => {
    // g: two f32 promoted to f64
    f.get(D_G).v128Load64Zero().simd(SIMD.f64x2PromoteLowF32x4).set(g2);
    // m = b1*m + c1*g
    f.get(D_M);
    f.get(sb1).v128LoadFrom(D_M).simd(SIMD.f64x2Mul);
    f.get(sc1).get(g2).simd(SIMD.f64x2Mul).simd(SIMD.f64x2Add);
    f.tee(m2).v128Store();
    // v = b2*v + (c2*g)*g
    f.get(D_V);
    f.get(sb2).v128LoadFrom(D_V).simd(SIMD.f64x2Mul);
    f.get(sc2).get(g2).simd(SIMD.f64x2Mul).get(g2).simd(SIMD.f64x2Mul).simd(SIMD.f64x2Add);
    f.tee(v2).v128Store();
    // w = f32(w - (a*m) / (sqrt(v) + eps)): the two f32 are the low 8 bytes of the demotion
    f.get(D_W);
    f.get(D_W).v128Load64Zero().simd(SIMD.f64x2PromoteLowF32x4);
    f.get(sa).get(m2).simd(SIMD.f64x2Mul);
    f.get(v2).simd(SIMD.f64x2Sqrt).get(seps).simd(SIMD.f64x2Add).simd(SIMD.f64x2Div);
    f.simd(SIMD.f64x2Sub).simd(SIMD.f32x4DemoteF64x2Zero).v128Store64Lane(0);
    f.inc(D_W, 8).inc(D_G, 8).inc(D_M, 16).inc(D_V, 16).inc(D_N, -2);
  });
  return f;
}

// csr parameters: a, m, k, sai, sak, ldb, rowptr, idx, val (see CsrFn).
const R_A = 0, R_M = 1, R_K = 2, R_SAI = 3, R_SAK = 4, R_LDB = 5, R_RP = 6, R_IDX = 7, R_VAL = 8;

/**
 * The CSR builder `csr` (see {@link CsrFn}): every element of A is written to the next idx/val
 * slot, and the slot advances only when it is not zero (no branch on the data).
 */
function emitCsr(): Fn {
  const f = new Fn(Array(9).fill(I32), [I32]);
  // Row i, column p, A at (i, p), B's row p as a byte offset, the next slot t (bytes; counts
  // from 0 over all rows, as locals start at 0), and the element v.
  const i = f.local(I32), p = f.local(I32), pa = f.local(I32), off = f.local(I32);
  const t = f.local(I32), v = f.local(F32);
  // rowptr[i] = t / 4
  const storeRowptr = () =>
    f.get(R_RP).index(i, 4).op(OP.i32Add).get(t).i32(2).op(OP.i32ShrU).i32Store();
  // while (m > i)
  loopUntil(f, () => f.get(R_M).get(i).op(OP.i32GtS, OP.i32Eqz), () => {
    storeRowptr();
    f.get(R_A).get(i).get(R_SAI).op(OP.i32Mul, OP.i32Add).set(pa);
    f.i32(0).set(p).i32(0).set(off);
    // while (k > p)
    loopUntil(f, () => f.get(R_K).get(p).op(OP.i32GtS, OP.i32Eqz), () => {
      f.get(pa).f32Load().set(v);
      f.get(R_IDX).get(t).op(OP.i32Add).get(off).i32Store();
      f.get(R_VAL).get(t).op(OP.i32Add).get(v).f32Store();
      // t += (v != 0) * 4: NaN counts as non-zero (its products are not skipped), -0 as zero
      f.get(t).get(v).f32(0).op(OP.f32Ne).i32(2).op(OP.i32Shl, OP.i32Add).set(t);
      f.incBy(pa, R_SAK).incBy(off, R_LDB).inc(p, 1);
    });
    f.inc(i, 1);
  });
  storeRowptr();
  // the number of non-zeros
  f.get(t).i32(2).op(OP.i32ShrU);
  return f;
}

// mask parameters: dst, src, y, count (a multiple of 4).
const K_DST = 0, K_SRC = 1, K_Y = 2, K_N = 3;

/** The ReLU select `mask` (see {@link ReluMask}): `src & (y > 0)` lane-wise, so +0 elsewhere. */
function emitMask(): Fn {
  const f = new Fn([I32, I32, I32, I32], []);
  const zero = f.local(V128);
  f.f32(0).simd(SIMD.f32x4Splat).set(zero);
  loopUntil(f, () => f.get(K_N).op(OP.i32Eqz), () => {
    f.get(K_DST).v128LoadFrom(K_SRC).v128LoadFrom(K_Y).get(zero).simd(SIMD.f32x4Gt);
    f.simd(SIMD.v128And).v128Store();
    f.inc(K_DST, 16).inc(K_SRC, 16).inc(K_Y, 16).inc(K_N, -4);
  });
  return f;
}

/**
 * @param shared whether the imported memory is shared (worker threads)
 * @param pages memory size in 64 KiB pages (the import's limits must match the memory's)
 * @returns the WASM module bytes of the kernels: `gemm`, `spmm`, `adam`, `csr` and `mask`
 */
export function buildGemmModule(shared: boolean, pages: number): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder();
  // A shared memory's import must state its exact limits; an unshared one only needs a minimum.
  m.importMemory("env", "mem", shared ? { min: pages, max: pages, shared } : { min: 1 });
  // Function indices 0..4 in this order, each with its own type.
  const kernels = { gemm: emitGemm, spmm: emitSpmm, adam: emitAdam, csr: emitCsr, mask: emitMask };
  for (const [name, emit] of Object.entries(kernels)) m.exportFunction(name, m.function(emit()));
  return m.encode();
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
