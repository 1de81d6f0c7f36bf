/**
 * The handshake between {@link WasmKernels} and its worker threads: one small shared control
 * block per worker, a job sequence number the main thread bumps, and a done number the worker
 * sets when it has finished that job.
 *
 * No wake-up can be lost: the worker is told the sequence number it starts from (the block's
 * value before any job was posted) instead of reading it itself, and it waits only while the
 * number still equals the last one it served. A job posted before the worker first looks is
 * therefore seen at once (`Atomics.wait` returns "not-equal"), however late the worker starts.
 *
 * A job is run by whoever claims it first (CLAIM goes from seq − 1 to seq): the worker when it
 * wakes, or the main thread once its own share is done. On a busy machine, where the worker may
 * wait long for a time slice, the main thread then runs the job itself instead of idling. Either
 * thread runs the same kernel on the same rows, so the result does not depend on who ran it.
 *
 * @module
 */

/** Layout of a control block: Int32 slots, then {@link F64_ARGS} f64 argument slots. */
export const CTRL = { SEQ: 0, DONE: 1, STOP: 2, CLAIM: 3, ARGS: 4, SIZE: 32 } as const;

/** Polls of a slot before a futex wait (tens of microseconds). */
const SPIN = 1 << 15;

/** Int32 argument slots per job. */
export const MAX_ARGS = CTRL.SIZE - CTRL.ARGS;

/** f64 argument slots per job (after the Int32 slots). */
export const F64_ARGS = 8;

/** What a worker is sent once, at start. */
export interface WorkerStart {
  memory: WebAssembly.Memory;
  ctrl: Int32Array;
  pages: number;
  /** the sequence number before the first job: the worker serves every number after it */
  seen: number;
}

/** @returns a fresh zeroed control block */
export function newControlBlock(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CTRL.SIZE * 4 + F64_ARGS * 8));
}

/** @returns the f64 argument slots of a control block (set them before {@link postJob}) */
export function jobF64(ctrl: Int32Array): Float64Array {
  return new Float64Array(ctrl.buffer, CTRL.SIZE * 4, F64_ARGS);
}

/**
 * Starts a worker on a control block.
 *
 * @param memory the shared WASM memory
 * @param pages its size in 64 KiB pages
 * @param ctrl the worker's control block (jobs may already be posted on it)
 * @returns the worker and a promise that settles when its kernel is instantiated
 */
export function spawnGemmWorker(
  memory: WebAssembly.Memory,
  pages: number,
  ctrl: Int32Array,
): { worker: Worker; ready: Promise<void> } {
  const worker = new Worker(new URL("./gemm_worker.ts", import.meta.url), { type: "module" });
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`gemm worker: ${e.message}`));
    };
  });
  // A fresh block's SEQ is 0; jobs posted before this point are > seen, so they still run.
  const start: WorkerStart = { memory, ctrl, pages, seen: 0 };
  worker.postMessage(start);
  return { worker, ready };
}

/**
 * Posts a job (its Int32 arguments) and wakes the worker.
 *
 * @param ctrl the worker's control block
 * @param args at most {@link MAX_ARGS} values
 * @returns the job's sequence number, for {@link awaitJob}
 */
export function postJob(ctrl: Int32Array, args: ArrayLike<number>): number {
  ctrl.set(args, CTRL.ARGS);
  const seq = Atomics.add(ctrl, CTRL.SEQ, 1) + 1;
  Atomics.notify(ctrl, CTRL.SEQ);
  return seq;
}

/**
 * The main thread's end of a job: runs it here if the worker has not claimed it yet, otherwise
 * waits until the worker has finished it.
 *
 * @param ctrl the worker's control block
 * @param seq the job, from {@link postJob}
 * @param runHere computes the job on this thread (from the arguments it posted)
 */
export function finishJob(ctrl: Int32Array, seq: number, runHere: () => void): void {
  if (Atomics.compareExchange(ctrl, CTRL.CLAIM, seq - 1, seq) === seq - 1) runHere();
  else awaitJob(ctrl, seq);
}

/** Blocks until the worker has finished job `seq` (which it has claimed or will claim). */
export function awaitJob(ctrl: Int32Array, seq: number): void {
  for (let i = 0; i < SPIN && Atomics.load(ctrl, CTRL.DONE) !== seq; i++);
  for (;;) {
    const done = Atomics.load(ctrl, CTRL.DONE);
    if (done === seq) return;
    Atomics.wait(ctrl, CTRL.DONE, done);
  }
}

/** Asks the worker to stop (after its current job, if any). */
export function stopWorker(ctrl: Int32Array): void {
  Atomics.store(ctrl, CTRL.STOP, 1);
  Atomics.add(ctrl, CTRL.SEQ, 1);
  Atomics.notify(ctrl, CTRL.SEQ);
}

/**
 * The worker's side: runs `run(args, f64)` for every job posted after `seen`, in order, until
 * stopped.
 *
 * @param ctrl the control block
 * @param seen the sequence number already served (from {@link WorkerStart})
 * @param run computes one job from its argument slots
 */
export function serveJobs(
  ctrl: Int32Array,
  seen: number,
  run: (args: Int32Array, f64: Float64Array) => void,
): void {
  const args = ctrl.subarray(CTRL.ARGS, CTRL.SIZE), f64 = jobF64(ctrl);
  for (;;) {
    // Jobs of one training step come tens of microseconds apart: spin a little before sleeping.
    for (let i = 0; i < SPIN && Atomics.load(ctrl, CTRL.SEQ) === seen; i++);
    // Returns at once when SEQ already moved past `seen` (a job posted before we got here).
    Atomics.wait(ctrl, CTRL.SEQ, seen);
    const seq = Atomics.load(ctrl, CTRL.SEQ);
    if (seq === seen) continue;
    if (Atomics.load(ctrl, CTRL.STOP) === 1) return;
    // The previous job is finished (by either thread) before the next is posted, so CLAIM is
    // seq - 1 unless the main thread took this job already.
    if (Atomics.compareExchange(ctrl, CTRL.CLAIM, seq - 1, seq) === seq - 1) run(args, f64);
    seen = seq;
    Atomics.store(ctrl, CTRL.DONE, seq);
    Atomics.notify(ctrl, CTRL.DONE);
  }
}
