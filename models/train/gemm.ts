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
import { Fn, I32, ModuleBuilder, OP, SIMD, V128 } from "../../wasm/assembler.ts";

/** Anything the GEMM can run on: f32 arrays (training) or f64 arrays (gradient checks). */
export type Vec = Float32Array | Float64Array;

/** A GEMM implementation (see the module doc for the formula). */
export interface Gemm {
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
};

// ---------------------------------------------------------------------------------------------
// The micro-kernel, assembled with wasm/.

// Parameters (all i32, bytes; strides already ×4): c, a, b, m, n, k, sai, sak, ldb, ldc.
const P_C = 0, P_A = 1, P_B = 2, P_M = 3, P_N = 4, P_K = 5, P_SAI = 6, P_SAK = 7, P_LDB = 8;
const P_LDC = 9;

/** Declares the kernel's locals (in this order) and returns their indices. */
function gemmLocals(f: Fn) {
  const i32 = () => f.local(I32), v128 = () => f.local(V128);
  return {
    /** Loop counters: row i, column j, k still to sum. */
    i: i32(),
    j: i32(),
    kLeft: i32(),
    /** Pointers into the 4 rows of A, into B, into the 4 rows of C; the block's A and C rows. */
    pa: [i32(), i32(), i32(), i32()],
    pb: i32(),
    pc: [i32(), i32(), i32(), i32()],
    aRow: i32(),
    cRow: i32(),
    /** 4 rows × 2 vectors of accumulators (acc[2r + v]), 2 vectors of B, one splat of A. */
    acc: Array.from({ length: 8 }, v128),
    bv: [v128(), v128()],
    av: v128(),
  };
}
type GemmLocals = ReturnType<typeof gemmLocals>;

/** Emits the block for `vecs` (2 or 1) vectors of columns at column j; advances j. */
function emitBlock(f: Fn, L: GemmLocals, vecs: number): void {
  // pc_r = crow + j*4 + r*ldc; pa_r = arow + r*sai; pb = b + j*4
  f.get(L.cRow).index(L.j, 4).op(OP.i32Add).set(L.pc[0]!);
  for (let r = 1; r < 4; r++) f.get(L.pc[r - 1]!).get(P_LDC).op(OP.i32Add).set(L.pc[r]!);
  f.get(L.aRow).set(L.pa[0]!);
  for (let r = 1; r < 4; r++) f.get(L.pa[r - 1]!).get(P_SAI).op(OP.i32Add).set(L.pa[r]!);
  f.get(P_B).index(L.j, 4).op(OP.i32Add).set(L.pb);
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < vecs; v++) f.v128LoadFrom(L.pc[r]!, 16 * v).set(L.acc[2 * r + v]!);
  }
  f.get(P_K).set(L.kLeft);
  f.block(() =>
    f.loop(() => {
      f.get(L.kLeft).op(OP.i32Eqz).brIf(1);
      for (let v = 0; v < vecs; v++) f.v128LoadFrom(L.pb, 16 * v).set(L.bv[v]!);
      for (let r = 0; r < 4; r++) {
        f.get(L.pa[r]!).f32Load().simd(SIMD.f32x4Splat).set(L.av);
        for (let v = 0; v < vecs; v++) {
          const acc = L.acc[2 * r + v]!;
          f.get(acc).get(L.av).get(L.bv[v]!).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc);
        }
      }
      for (let r = 0; r < 4; r++) f.incBy(L.pa[r]!, P_SAK);
      f.incBy(L.pb, P_LDB);
      f.get(L.kLeft).i32(1).op(OP.i32Sub).set(L.kLeft);
      f.br(0);
    })
  );
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < vecs; v++) f.v128StoreTo(L.pc[r]!, 16 * v, L.acc[2 * r + v]!);
  }
  f.inc(L.j, 4 * vecs);
}

/**
 * @param shared whether the imported memory is shared (worker threads)
 * @param pages memory size in 64 KiB pages (the import's limits must match the memory's)
 * @returns the WASM module bytes of the GEMM kernel
 */
export function buildGemmModule(shared: boolean, pages: number): Uint8Array<ArrayBuffer> {
  const f = new Fn(Array(10).fill(I32), []);
  const L = gemmLocals(f);
  f.i32(0).set(L.i);
  f.block(() =>
    f.loop(() => {
      // if (i >= m) break  ->  if !(m > i)
      f.get(P_M).get(L.i).op(OP.i32GtS, OP.i32Eqz).brIf(1);
      f.get(P_A).get(L.i).get(P_SAI).op(OP.i32Mul, OP.i32Add).set(L.aRow);
      f.get(P_C).get(L.i).get(P_LDC).op(OP.i32Mul, OP.i32Add).set(L.cRow);
      f.i32(0).set(L.j);
      f.block(() =>
        f.loop(() => {
          // if (j + 8 > n) break
          f.get(L.j).addConst(8).get(P_N).op(OP.i32GtS).brIf(1);
          emitBlock(f, L, 2);
          f.br(0);
        })
      );
      // if (n > j) one 4-column block (n % 4 == 0 is the caller's promise)
      f.get(P_N).get(L.j).op(OP.i32GtS).if(() => emitBlock(f, L, 1));
      f.inc(L.i, 4);
      f.br(0);
    })
  );
  const m = new ModuleBuilder();
  // A shared memory's import must state its exact limits; an unshared one only needs a minimum.
  m.importMemory("env", "mem", shared ? { min: pages, max: pages, shared } : { min: 1 });
  m.exportFunction("gemm", m.function(f));
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

/** Layout of the control block shared with each worker (Int32 slots). */
export const CTRL = { SEQ: 0, DONE: 1, READY: 2, STOP: 3, ARGS: 4, SIZE: 16 } as const;

/** Work below this many multiply-adds stays on the calling thread. */
const PARALLEL_MIN = 1 << 18;

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
  #fn: GemmFn;
  #top = 0;
  #workers: { worker: Worker; ctrl: Int32Array }[] = [];

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
    const mod = new WebAssembly.Module(buildGemmModule(shared, pages));
    const inst = new WebAssembly.Instance(mod, { env: { mem: this.memory } });
    this.#fn = inst.exports.gemm as GemmFn;
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
      const ctrl = new Int32Array(new SharedArrayBuffer(CTRL.SIZE * 4));
      const worker = new Worker(new URL("./gemm_worker.ts", import.meta.url), { type: "module" });
      ready.push(
        new Promise((resolve, reject) => {
          worker.onmessage = () => resolve();
          worker.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`gemm worker: ${e.message}`));
          };
        }),
      );
      worker.postMessage({ memory: k.memory, ctrl, pages });
      k.#workers.push({ worker, ctrl });
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
      Atomics.store(ctrl, CTRL.STOP, 1);
      Atomics.add(ctrl, CTRL.SEQ, 1);
      Atomics.notify(ctrl, CTRL.SEQ);
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
      ctrl.set([
        c.byteOffset + r0 * ldc * 4,
        a.byteOffset + r0 * sai * 4,
        args[2],
        r1 - r0,
        ...args.slice(4),
      ], CTRL.ARGS);
      seqs.push(Atomics.add(ctrl, CTRL.SEQ, 1) + 1);
      Atomics.notify(ctrl, CTRL.SEQ);
    }
    gemmChunked(
      this.#fn,
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
    for (let t = 1; t < parts; t++) {
      const { ctrl } = this.#workers[t - 1]!;
      for (;;) {
        const done = Atomics.load(ctrl, CTRL.DONE);
        if (done === seqs[t - 1]) break;
        Atomics.wait(ctrl, CTRL.DONE, done);
      }
    }
  }
}
