/**
 * The optional worker pool of an emitted module: `createPool(n)` splits a batch over `n` workers,
 * each running this same module file (so the module stays one self-contained file) with the
 * same kernels as the single-threaded `predictBatch`, hence bit-identical results.
 *
 * - Workers: a module `Worker` on `import.meta.url` (Deno, browsers, Bun), or under Node (no
 *   global `Worker`) a `node:worker_threads` worker on the same file URL, taken with
 *   `process.getBuiltinModule` (Node >= 20.16), so the module still has no import of any kind.
 *   A worker recognises itself by its name (web) or by a mark in its `workerData` (Node);
 *   everywhere else the pool code only declares functions.
 * - Kernels: the loader's `compileKernels` runs once in the calling thread and its result is
 *   posted to every worker (the WASM target's `WebAssembly.Module`, structured-cloneable in
 *   Deno, browsers and Node); each worker decodes the weights into its own memory once, at start.
 * - Data: inputs and outputs travel in `SharedArrayBuffer`s where they exist (outside browsers,
 *   or in cross-origin isolated pages), and the workers take chunks of images from a shared
 *   counter until none are left (a busier core takes fewer); elsewhere each worker gets a copy
 *   of an equal slice and transfers its results back. Nothing requires shared memory.
 *
 * The single-threaded API is untouched: the pool adds code, no state to `predict`. This file
 * comes last in the module: its final block starts serving when the module runs in a worker.
 *
 * @module
 */
import { CLASSES, INPUT_LENGTH, WEIGHTS } from "./generated.ts";
import { type CompiledKernels, compileKernels, instantiate } from "./loader.ts";
import { check, chunkImages, plainView, predictVectors, useEngine } from "./api.ts";
import type { BatchPrediction, Pool, PoolOptions } from "./types.ts";

/**
 * Most workers a pool may have. Each one holds its own copy of the module, the weights and an
 * arena (megabytes) and takes tens of milliseconds to start; more workers than cores only cost
 * memory. (1,000 workers took 66 s and 8 GB.)
 */
const MAX_POOL_SIZE = 64;

/** The worker name (web) that makes this module serve a pool instead of only declaring it. */
const POOL_NAME = "ggufc-pool";
/** The `workerData` key that makes a Node worker serve a pool. */
const POOL_MARK = "ggufcPool";

/** Pool <-> worker messages. */
type PoolRequest =
  | { kind: "init"; kernels: CompiledKernels }
  | {
    kind: "run";
    id: number;
    images: Uint8Array | Float32Array;
    count: number;
    /**
     * Shared memory: `images` is the whole batch, these are the whole outputs, and
     * `counters` holds [images taken, images finished]: each worker takes `chunk` images at a
     * time until none are left (a slower or busier core simply takes fewer), and the worker
     * that finishes the last image answers for all. Absent: `images` is this worker's slice
     * and its results come back as copies.
     */
    digits?: Uint8Array;
    probabilities?: Float32Array;
    counters?: Int32Array;
    chunk?: number;
  };
type PoolReply =
  /** `images`: the worker's batch chunk (1: no batch path); the pool cuts batches in multiples. */
  | { kind: "ready"; id: -1; images: number }
  | { kind: "done"; id: number; digits?: Uint8Array; probabilities?: Float32Array }
  | { kind: "error"; id: number; name: string; message: string };

/** Web workers and node:worker_threads behind one shape. */
interface PoolPort {
  send(message: PoolRequest | PoolReply, transfer: ArrayBuffer[]): void;
  /** `onError`: the worker failed (pool side only; a worker leaves its own errors alone). */
  listen(onMessage: (message: unknown) => void, onError?: (error: Error) => void): void;
  terminate(): Promise<void>;
}

/** The parts of node:worker_threads the pool uses. */
interface NodeWorkerThreads {
  Worker: new (url: URL, options: { workerData: unknown }) => NodeEndpoint;
  isMainThread: boolean;
  workerData: unknown;
  parentPort: NodeEndpoint | null;
}

/** node:worker_threads when running under Node (>= 20.16), without an import. */
function nodeWorkerThreads(): NodeWorkerThreads | undefined {
  const g = globalThis as unknown as {
    Worker?: unknown;
    process?: { getBuiltinModule?: (id: string) => unknown };
  };
  if (typeof g.Worker === "function") return undefined; // Deno, browsers, Bun: web workers
  return g.process?.getBuiltinModule?.("node:worker_threads") as NodeWorkerThreads | undefined;
}

/** The parts of node:worker_threads' MessagePort / Worker the pool uses. */
interface NodeEndpoint {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  on(event: string, listener: (value: never) => void): void;
  terminate?(): Promise<number>;
}

/** The parts of a web Worker (and of a worker's global scope) the pool uses. */
interface WebEndpoint {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: string, listener: (event: never) => void): void;
  terminate?(): void;
}

function webPort(w: WebEndpoint): PoolPort {
  return {
    send: (m, t) => w.postMessage(m, t),
    listen(onMessage, onError) {
      w.addEventListener("message", (e: { data: unknown }) => onMessage(e.data));
      if (!onError) return;
      w.addEventListener(
        "messageerror",
        () => onError(new Error("a pool message could not be read")),
      );
      w.addEventListener("error", (e: { message?: string; preventDefault(): void }) => {
        e.preventDefault(); // handled here: do not let it end the calling thread
        onError(new Error(`pool worker failed: ${e.message ?? "unknown error"}`));
      });
    },
    terminate: () => (w.terminate?.(), Promise.resolve()),
  };
}

function nodePort(p: NodeEndpoint): PoolPort {
  return {
    send: (m, t) => p.postMessage(m, t),
    listen(onMessage, onError) {
      p.on("message", (m: unknown) => onMessage(m));
      if (!onError) return;
      p.on("error", (e: Error) => onError(new Error(`pool worker failed: ${e.message}`)));
      p.on("exit", (code: number) => onError(new Error(`pool worker exited (code ${code})`)));
    },
    terminate: async () => void await p.terminate?.(),
  };
}

/** SharedArrayBuffer exists and, in a browser, the page is cross-origin isolated. */
function sharedMemoryAvailable(): boolean {
  const g = globalThis as unknown as { crossOriginIsolated?: boolean };
  return typeof SharedArrayBuffer === "function" && g.crossOriginIsolated !== false;
}

/** Starts one worker on this module's own file. */
function spawnPoolWorker(): PoolPort {
  const g = globalThis as unknown as {
    Worker?: new (url: string, options: { type: "module"; name: string }) => WebEndpoint;
    process?: { versions?: { node?: string } };
  };
  if (typeof g.Worker === "function") {
    return webPort(new g.Worker(import.meta.url, { type: "module", name: POOL_NAME }));
  }
  const wt = nodeWorkerThreads();
  if (wt) {
    return nodePort(new wt.Worker(new URL(import.meta.url), { workerData: { [POOL_MARK]: true } }));
  }
  throw new Error(
    g.process?.versions?.node
      ? `createPool: needs Node >= 20.16 (process.getBuiltinModule), this is ${g.process.versions.node}`
      : "createPool: this environment has no Worker",
  );
}

function poolError(r: { name: string; message: string }): Error {
  const E = r.name === "RangeError" ? RangeError : r.name === "TypeError" ? TypeError : Error;
  return new E(r.message);
}

/**
 * Starts `n` workers that each run this module, for batches split over cores. The weights are
 * compiled once here and shared; shared memory is used only where available.
 *
 * @param n number of workers, an integer from 1 to 64 (e.g. the number of cores; each worker
 *   holds its own copy of the weights, so more workers than cores only cost memory)
 * @param options `shared`: force or forbid SharedArrayBuffers
 * @returns the pool, once every worker is ready; call `close()` when done
 * @throws RangeError when n is not an integer from 1 to 64
 * @example
 * ```ts ignore
 * const pool = await createPool(2);
 * const { digits } = await pool.predictBatch(pixels, 500); // 500 images, one after another
 * await pool.close();
 * ```
 */
async function createVectorPool(n: number, options: PoolOptions = {}): Promise<Pool> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_POOL_SIZE) {
    throw new RangeError(`createPool: n must be an integer from 1 to ${MAX_POOL_SIZE}, got ${n}`);
  }
  const shared = options.shared ?? sharedMemoryAvailable();
  if (shared && !sharedMemoryAvailable()) {
    throw new Error(
      "createPool: shared memory is not available here (SharedArrayBuffer, cross-origin isolation)",
    );
  }
  const kernels = await compileKernels();
  const pending = new Map<number, { resolve(r: PoolReply): void; reject(e: Error): void }>();
  let nextId = 0;
  let closed = false;
  let failure: Error | undefined;
  const ports: PoolPort[] = [];
  /** Images per batch-kernel chunk in the workers: slices are cut in multiples of it. */
  let unit = 1;
  const fail = (e: Error) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  const call = (port: PoolPort, id: number, m: PoolRequest, transfer: ArrayBuffer[]) =>
    new Promise<PoolReply>((resolve, reject) => {
      if (failure) return reject(failure);
      pending.set(id, { resolve, reject });
      port.send(m, transfer);
    });
  const close = async () => {
    if (closed) return;
    closed = true;
    fail(new Error("the pool was closed"));
    await Promise.all(ports.map((p) => p.terminate()));
  };
  try {
    for (let i = 0; i < n; i++) {
      const port = spawnPoolWorker();
      ports.push(port);
      const readyId = -1 - i;
      port.listen((message) => {
        const r = message as PoolReply;
        const id = r.kind === "ready" || r.id === -1 ? readyId : r.id;
        const p = pending.get(id);
        if (!p) return;
        pending.delete(id);
        if (r.kind === "error") p.reject(poolError(r));
        else p.resolve(r);
      }, fail);
    }
    const ready = await Promise.all(
      ports.map((port, i) => call(port, -1 - i, { kind: "init", kernels }, [])),
    );
    for (const r of ready) if (r.kind === "ready") unit = Math.max(unit, r.images);
  } catch (e) {
    await close();
    throw e;
  }

  async function poolPredictBatch(
    images: Uint8Array | Float32Array,
    count: number,
  ): Promise<BatchPrediction> {
    if (closed) throw new Error("pool.predictBatch: the pool was closed");
    const length = check(images, count, "pool.predictBatch");
    let input = plainView(images, length);
    // Shared memory: the input copy and the outputs live in this call's scratch (taken from the
    // spares, returned after); the caller gets copies. Copies: new arrays the workers fill.
    const scratch = shared && count > 0
      ? takeScratch(length * (input instanceof Uint8Array ? 1 : 4), count * (CLASSES * 4 + 1))
      : undefined;
    let digits: Uint8Array, probabilities: Float32Array;
    if (scratch) {
      const copy = input instanceof Uint8Array
        ? new Uint8Array(scratch.input, 0, length)
        : new Float32Array(scratch.input, 0, length);
      copy.set(input);
      input = copy;
      probabilities = new Float32Array(scratch.output, 0, count * CLASSES);
      digits = new Uint8Array(scratch.output, count * CLASSES * 4, count);
    } else {
      digits = new Uint8Array(count);
      probabilities = new Float32Array(count * CLASSES);
    }
    const jobs: Promise<unknown>[] = [];
    if (shared && count > 0) {
      const counters = new Int32Array(new SharedArrayBuffer(8));
      // Chunks small enough to even out unequal cores, large enough that taking one is free,
      // and whole batch-kernel chunks (multiples of `unit`), so each core runs its own GEMMs.
      const even = Math.max(1, Math.min(32, Math.ceil(count / (ports.length * 8))));
      const chunk = unit * Math.max(1, Math.round(even / unit));
      const workers = Math.min(ports.length, Math.ceil(count / chunk));
      const id = nextId++;
      const m: PoolRequest = {
        kind: "run",
        id,
        images: input,
        count,
        digits,
        probabilities,
        counters,
        chunk,
      };
      // One answer for the whole batch: no waiting for a worker that woke too late to help.
      jobs.push(call(ports[0]!, id, m, []));
      for (let w = 1; w < workers; w++) ports[w]!.send(m, []);
    } else if (!shared) {
      for (let w = 0; w < ports.length; w++) {
        // Contiguous slices of whole chunks (`unit` images) whose sizes differ by at most one
        // chunk; the last one takes the rest.
        const cut = (v: number) =>
          v === ports.length ? count : unit * Math.floor((v * count) / (ports.length * unit));
        const from = cut(w), to = cut(w + 1);
        if (to === from) continue;
        const slice = input.slice(from * INPUT_LENGTH, to * INPUT_LENGTH);
        const id = nextId++;
        const m: PoolRequest = { kind: "run", id, images: slice, count: to - from };
        jobs.push(
          call(ports[w]!, id, m, [slice.buffer as ArrayBuffer]).then((r) => {
            if (r.kind !== "done") return;
            digits.set(r.digits!, from);
            probabilities.set(r.probabilities!, from * CLASSES);
          }),
        );
      }
    }
    await Promise.all(jobs);
    if (!scratch) return { digits, probabilities };
    // Every image is done (the last worker's answer came after its writes), so the scratch can
    // serve the next call once the results are copied out.
    const result = { digits: digits.slice(), probabilities: probabilities.slice() };
    spares.push(scratch);
    return result;
  }

  /**
   * Shared memory kept from call to call: a fresh SharedArrayBuffer costs a page fault per 4 KiB
   * at its first touch, which for a batch's input copy was most of a call's time on a machine
   * where faults are slow (BENCHMARKS.md, Batches on all cores). One scratch per call in flight;
   * the `counters` stay new per call, so a worker that wakes after its call has ended finds its
   * own counter used up and touches nothing.
   */
  const spares: Scratch[] = [];
  function takeScratch(inputBytes: number, outputBytes: number): Scratch {
    const i = spares.findIndex((s) =>
      s.input.byteLength >= inputBytes && s.output.byteLength >= outputBytes
    );
    if (i >= 0) return spares.splice(i, 1)[0]!;
    // None fits: the smallest spare goes (at most one per worker are kept), a new one is made.
    if (spares.length >= ports.length) {
      spares.sort((a, b) => a.input.byteLength - b.input.byteLength).shift();
    }
    return {
      input: new SharedArrayBuffer(Math.max(inputBytes, 4)),
      output: new SharedArrayBuffer(Math.max(outputBytes, 4)),
    };
  }

  return { size: n, shared, predictBatch: poolPredictBatch, close };
}

/** A pool call's shared memory: the input copy, and the outputs (probabilities, then digits). */
interface Scratch {
  readonly input: SharedArrayBuffer;
  readonly output: SharedArrayBuffer;
}

/** Worker side: answer the pool's messages with this module's own predictBatch. */
function servePool(port: PoolPort): void {
  let started: Promise<void> | undefined;
  port.listen(async (message) => {
    const m = message as PoolRequest;
    const id = m.kind === "run" ? m.id : -1;
    try {
      if (m.kind === "init") {
        started = instantiate(WEIGHTS, m.kernels).then(useEngine);
        await started;
        port.send({ kind: "ready", id: -1, images: chunkImages() }, []);
        return;
      }
      await started;
      if (m.counters && m.digits && m.probabilities) {
        const chunk = m.chunk ?? 1;
        for (;;) {
          const from = Atomics.add(m.counters, 0, chunk);
          if (from >= m.count) break;
          const to = Math.min(m.count, from + chunk);
          const r = predictVectors(
            m.images.subarray(from * INPUT_LENGTH, to * INPUT_LENGTH),
            to - from,
          );
          m.digits.set(r.digits, from);
          m.probabilities.set(r.probabilities, from * CLASSES);
          if (Atomics.add(m.counters, 1, to - from) + to - from === m.count) {
            port.send({ kind: "done", id }, []); // this worker finished the batch's last image
          }
        }
      } else {
        const r = predictVectors(m.images, m.count);
        const digits = r.digits.slice(), probabilities = r.probabilities.slice();
        port.send({ kind: "done", id, digits, probabilities }, [
          digits.buffer,
          probabilities.buffer,
        ]);
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      port.send({ kind: "error", id, name: err.name, message: err.message }, []);
    }
  });
}

{
  const g = globalThis as unknown as { name?: unknown; document?: unknown; postMessage?: unknown };
  const wt = nodeWorkerThreads();
  const mark = wt && !wt.isMainThread ? (wt.workerData as Record<string, unknown> | null) : null;
  if (wt?.parentPort && mark?.[POOL_MARK] === true) {
    servePool(nodePort(wt.parentPort));
  } else if (
    g.name === POOL_NAME && typeof g.document === "undefined" && typeof g.postMessage === "function"
  ) {
    servePool(webPort(globalThis as unknown as WebEndpoint));
  }
}

export { createVectorPool };
