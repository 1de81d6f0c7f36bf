/**
 * The GEMM worker handshake (models/train/gemm_threads.ts): a job posted before the worker first
 * looks at its control block is still served (the lost wake-up that hung `train --threads 2`),
 * jobs after it run in order, and several 2-thread trainings started at once all finish with the
 * same bytes as a 1-thread run.
 */
import assert from "node:assert/strict";
import { JOB, jsGemm, WasmKernels } from "../models/train/gemm.ts";
import {
  awaitJob,
  CTRL,
  finishJob,
  newControlBlock,
  postJob,
  spawnGemmWorker,
  stopWorker,
} from "../models/train/gemm_threads.ts";
import { Rng } from "../models/train/prng.ts";
import { type Digits, loadDigits } from "../models/train/data.ts";
import { trainModelFile } from "../models/train/model_file.ts";

/** Waits (without blocking the event loop) until job `seq` is done or `ms` passed. */
async function doneWithin(ctrl: Int32Array, seq: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const done = Atomics.load(ctrl, CTRL.DONE);
    if (done === seq) return true;
    const left = end - Date.now();
    if (left <= 0) return false;
    const r = Atomics.waitAsync(ctrl, CTRL.DONE, done, left);
    if (r.async) await r.value;
  }
}

Deno.test("a GEMM job posted before its worker starts is served, and later jobs follow in order", async () => {
  const bytes = 1 << 20, pages = bytes / 65536;
  const k = new WasmKernels(bytes, true);
  const m = 8, n = 12, kk = 20;
  const a = k.alloc(m * kk), b = k.alloc(kk * n), c = k.alloc(m * n);
  const rng = new Rng(2);
  for (const v of [a, b, c]) for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  const want = new Float32Array(c);
  jsGemm.gemm(want, new Float32Array(a), new Float32Array(b), m, n, kk, kk, 1, n, n);

  const ctrl = newControlBlock();
  const job = [
    JOB.GEMM,
    c.byteOffset,
    a.byteOffset,
    b.byteOffset,
    m,
    n,
    kk,
    kk * 4,
    4,
    n * 4,
    n * 4,
  ];
  const first = postJob(ctrl, job); // before the worker exists: its wake-up cannot reach it
  const { worker, ready } = spawnGemmWorker(k.memory, pages, ctrl);
  try {
    await ready;
    assert(await doneWithin(ctrl, first, 20_000), "the worker never ran the job posted early");
    assert.deepEqual(c, want);
    // Two more jobs, each awaited the way WasmKernels.gemm does: C accumulates twice more.
    jsGemm.gemm(want, new Float32Array(a), new Float32Array(b), m, n, kk, kk, 1, n, n);
    jsGemm.gemm(want, new Float32Array(a), new Float32Array(b), m, n, kk, kk, 1, n, n);
    for (let i = 0; i < 2; i++) awaitJob(ctrl, postJob(ctrl, job));
    assert.equal(Atomics.load(ctrl, CTRL.DONE), first + 2);
    assert.deepEqual(c, want);
  } finally {
    stopWorker(ctrl);
    worker.terminate();
  }
});

Deno.test("a job the main thread claimed first is run once, by it, and the worker serves the next", async () => {
  const bytes = 1 << 20, pages = bytes / 65536;
  const k = new WasmKernels(bytes, true);
  const m = 4, n = 8, kk = 5;
  const a = k.alloc(m * kk), b = k.alloc(kk * n), c = k.alloc(m * n);
  const rng = new Rng(3);
  for (const v of [a, b]) for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  const want = new Float32Array(m * n);
  const once = () =>
    jsGemm.gemm(want, new Float32Array(a), new Float32Array(b), m, n, kk, kk, 1, n, n);
  const ctrl = newControlBlock();
  const job = [JOB.GEMM, c.byteOffset, a.byteOffset, b.byteOffset, m, n, kk, kk * 4, 4, n * 4];
  job.push(n * 4);
  let here = 0;
  // No worker yet: the main thread claims job 1 and runs it itself.
  finishJob(ctrl, postJob(ctrl, job), () => (here++, k.gemm(c, a, b, m, n, kk, kk, 1, n, n)));
  once();
  const { worker, ready } = spawnGemmWorker(k.memory, pages, ctrl);
  try {
    await ready;
    const second = postJob(ctrl, job);
    assert(await doneWithin(ctrl, second, 20_000), "the worker did not serve job 2");
    once();
    assert.equal(here, 1);
    assert.deepEqual(c, want); // two products, not three: the worker skipped job 1
  } finally {
    stopWorker(ctrl);
    worker.terminate();
  }
});

Deno.test("three 2-thread `train fc` processes started at once all finish, with the bytes of a 1-thread run", async () => {
  const dir = await Deno.makeTempDir();
  // A hang guard, not a speed limit: each run takes seconds; a lost wake-up never ends.
  const GUARD_MS = 240_000;
  const run = async (name: string, threads: number) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "train", "fc", "-o", `${dir}/${name}.gguf`, "--images", "2000"]
        .concat(["--epochs", "1", "--threads", String(threads)]),
      cwd: new URL("..", import.meta.url),
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, GUARD_MS);
    const out = await child.output();
    clearTimeout(timer);
    assert(!hung, `${name} did not finish within ${GUARD_MS / 1000} s (hung)`);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return await Deno.readFile(`${dir}/${name}.gguf`);
  };
  try {
    const files = await Promise.all(["a", "b", "c"].map((name) => run(name, 2)));
    const single = await run("one", 1);
    for (const f of files) assert.deepEqual(f, single);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function firstImages(d: Digits, n: number): Digits {
  return { count: n, pixels: d.pixels.subarray(0, n * 784), labels: d.labels.subarray(0, n) };
}

for (
  const [arch, images, batch] of [["fc", 3200, 16], ["cnn-small", 1600, 16]] as const
) {
  const steps = Math.ceil(Math.round(images * 0.95) / batch);
  Deno.test(`${arch}: ${steps} training steps give the same bytes 5 times with 1 thread and 5 times with 2`, async () => {
    const data = firstImages(loadDigits("train"), images);
    const test = firstImages(loadDigits("test"), 200);
    const cfg = { arch, layout: "ggml" as const, epochs: 1, batch, lr: 1e-3, lrDecay: 1, seed: 4 };
    const first = (await trainModelFile({ ...cfg, threads: 1 }, data, test)).gguf;
    for (let run = 0; run < 9; run++) {
      const threads = run % 2 === 0 ? 2 : 1;
      const again = (await trainModelFile({ ...cfg, threads }, data, test)).gguf;
      assert.deepEqual(again, first, `run ${run + 2} (${threads} threads) differs from run 1`);
    }
  });
}
