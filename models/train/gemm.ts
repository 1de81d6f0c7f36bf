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
import { awaitJob, newControlBlock, postJob, spawnGemmWorker, stopWorker } from "./gemm_threads.ts";

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
// A tiny WASM assembler: just the opcodes the micro-kernel uses.

const I32 = 0x7f, V128 = 0x7b;
const enum Op {
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  LocalGet = 0x20,
  LocalSet = 0x21,
  F32Load = 0x2a,
  I32Const = 0x41,
  I32Eqz = 0x45,
  I32GtS = 0x4a,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  Simd = 0xfd,
}
const SIMD_LOAD = 0x00, SIMD_STORE = 0x0b, F32X4_SPLAT = 0x13, F32X4_ADD = 0xe4, F32X4_MUL = 0xe6;

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

/**
 * @param shared whether the imported memory is shared (worker threads)
 * @param pages memory size in 64 KiB pages (the import's limits must match the memory's)
 * @returns the WASM module bytes of the GEMM kernel
 */
export function buildGemmModule(shared: boolean, pages: number): Uint8Array<ArrayBuffer> {
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
  f.op(Op.Br, 0, Op.End, Op.End, Op.End);

  const locals = [2, ...uleb(14), I32, ...uleb(11), V128];
  const code = [...uleb(locals.length + f.b.length), ...locals, ...f.b];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 10, ...Array(10).fill(I32), 0]),
    ...section(2, [
      1,
      ...str("env"),
      ...str("mem"),
      0x02,
      ...(shared ? [0x03, ...uleb(pages), ...uleb(pages)] : [0x00, ...uleb(1)]),
    ]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...str("gemm"), 0x00, 0]),
    ...section(10, [1, ...code]),
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
      const ctrl = newControlBlock();
      const w = spawnGemmWorker(k.memory, pages, ctrl);
      ready.push(w.ready);
      k.#workers.push({ worker: w.worker, ctrl });
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
        c.byteOffset + r0 * ldc * 4,
        a.byteOffset + r0 * sai * 4,
        args[2],
        r1 - r0,
        ...args.slice(4),
      ]));
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
    for (let t = 1; t < parts; t++) awaitJob(this.#workers[t - 1]!.ctrl, seqs[t - 1]!);
  }
}
