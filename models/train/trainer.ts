/**
 * The training loop: seeded init, per-epoch shuffles, mini-batches, Adam, a held-out validation
 * split (the last 5 % of the training images, as Keras' `validation_split` takes them), progress,
 * and evaluation of a finished parameter set on any digits.
 *
 * Determinism: all randomness comes from {@link Rng} streams derived from the seed (init,
 * shuffle, dropout), every reduction runs in a fixed order, and f32 rounding happens at the same
 * points in every run, so the same configuration gives bit-identical parameters.
 *
 * @module
 */
import { Adam } from "./adam.ts";
import { WasmKernels } from "./gemm.ts";
import { type Arch, buildNet, type RunContext, type Sequential } from "./layers.ts";
import { type Digits, gatherBatch } from "./data.ts";
import { EpochProgress, type ProgressSink, silentSink } from "./progress.ts";
import { Rng } from "./prng.ts";

/** What to train and how. */
export interface TrainConfig {
  readonly arch: Arch;
  readonly epochs: number;
  readonly batch: number;
  /** Adam learning rate of the first epoch */
  readonly lr: number;
  /** factor applied to the learning rate after each epoch */
  readonly lrDecay: number;
  readonly seed: number;
  /** fraction of the training images held out for validation (default 0.05) */
  readonly validation?: number;
  /**
   * threads for the GEMMs (default 1); the result is bit-identical for any count, so it is not
   * part of the model's metadata
   */
  readonly threads?: number;
  /**
   * data augmentation: each training image is shifted by a random whole number of pixels in
   * [-shift, shift] along x and along y, zero-filled (default 0: off); never for validation
   */
  readonly shift?: number;
}

/** Figures of one finished epoch. */
export interface EpochReport {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
  readonly seconds: number;
}

/** Trained parameters by name (layer layout, see ops.ts) and the training history. */
export interface TrainResult {
  readonly params: Map<string, Float32Array>;
  readonly history: EpochReport[];
  readonly seconds: number;
}

/** Accuracy (0..1) and mean cross-entropy loss. */
export interface Score {
  readonly accuracy: number;
  readonly loss: number;
}

const EVAL_BATCH = 100;

/** @returns bytes of kernel memory a net of `arch` with `batch` samples needs */
function netBytes(arch: Arch, batch: number): number {
  let bytes = 0;
  buildNet(arch, (n) => {
    bytes += (n * 4 + 15) & ~15;
    return new Float32Array(0);
  }, batch);
  return bytes;
}

/** Builds a net with its own WASM kernel memory. */
async function makeNet(
  arch: Arch,
  batch: number,
  threads = 1,
  extraBytes = 0,
): Promise<{ net: Sequential; kernels: WasmKernels }> {
  const kernels = await WasmKernels.create(netBytes(arch, batch) + extraBytes + 65536, threads);
  return { net: buildNet(arch, (n) => kernels.alloc(n), batch), kernels };
}

/** Shifts the 28×28 image at `x[off..]` by random (dx, dy) in [-s, s]², zero-filling. */
function shiftImage(x: Float32Array, off: number, s: number, rng: Rng, tmp: Float32Array): void {
  const dx = rng.below(2 * s + 1) - s, dy = rng.below(2 * s + 1) - s;
  if (dx === 0 && dy === 0) return;
  tmp.set(x.subarray(off, off + 784));
  for (let y = 0; y < 28; y++) {
    const sy = y - dy;
    for (let xx = 0; xx < 28; xx++) {
      const sx = xx - dx;
      x[off + y * 28 + xx] = sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? tmp[sy * 28 + sx]! : 0;
    }
  }
}

/**
 * Evaluates parameters on digits (no dropout).
 *
 * @param arch the architecture
 * @param params parameters by name, as {@link train} returns them
 * @param data the digits
 * @returns accuracy and mean loss
 * @example
 * ```ts ignore
 * const s = await scoreParams("fc", result.params, loadDigits("test"));
 * ```
 */
export async function scoreParams(
  arch: Arch,
  params: Map<string, Float32Array>,
  data: Digits,
  threads = 1,
): Promise<Score> {
  const { net, kernels } = await makeNet(arch, EVAL_BATCH, threads);
  for (const p of net.params) {
    const v = params.get(p.name);
    if (!v || v.length !== p.value.length) throw new Error(`scoreParams: parameter ${p.name}`);
    p.value.set(v);
  }
  const order = Uint32Array.from({ length: data.count }, (_, i) => i);
  try {
    return scoreNet(net, kernels, data, order);
  } finally {
    kernels.close();
  }
}

function scoreNet(net: Sequential, kernels: WasmKernels, data: Digits, order: Uint32Array): Score {
  const ctx: RunContext = { gemm: kernels, train: false, uniform: () => 0 };
  const labels = new Uint8Array(net.batch);
  let loss = 0, correct = 0;
  for (let from = 0; from < order.length; from += net.batch) {
    const n = Math.min(net.batch, order.length - from);
    gatherBatch(data, order, from, n, net.x, labels);
    net.x.fill(0, n * 784);
    net.forward(ctx);
    const z = net.logits;
    for (let r = 0; r < n; r++) {
      let max = -Infinity, arg = 0;
      for (let j = 0; j < 10; j++) if (z[r * 10 + j]! > max) max = z[r * 10 + j]!, arg = j;
      let sum = 0;
      for (let j = 0; j < 10; j++) sum += Math.exp(z[r * 10 + j]! - max);
      loss += Math.log(sum) - (z[r * 10 + labels[r]!]! - max);
      if (arg === labels[r]) correct++;
    }
  }
  return { accuracy: correct / order.length, loss: loss / order.length };
}

/**
 * Trains a net on `data` (the last `validation` fraction held out).
 *
 * @param cfg the configuration
 * @param data training digits
 * @param sink progress output (default: none)
 * @returns parameters and history
 * @example
 * ```ts ignore
 * const r = await train({ arch: "fc", epochs: 1, batch: 64, lr: 1e-3, lrDecay: 1, seed: 1 },
 *   loadDigits("train"), stderrSink());
 * ```
 */
export async function train(
  cfg: TrainConfig,
  data: Digits,
  sink: ProgressSink = silentSink,
): Promise<TrainResult> {
  const t0 = performance.now();
  const shard = (cfg.batch + 3) & ~3;
  const sizes = buildNet(cfg.arch, (n) => new Float32Array(n), 4).params.map((p) => p.value.length);
  const { net, kernels } = await makeNet(cfg.arch, shard, cfg.threads, Adam.bytes(sizes));
  const { net: evalNet, kernels: evalKernels } = await makeNet(cfg.arch, EVAL_BATCH, cfg.threads);
  try {
    return trainLoop(cfg, data, sink, net, kernels, evalNet, evalKernels, t0);
  } finally {
    kernels.close();
    evalKernels.close();
  }
}

function trainLoop(
  cfg: TrainConfig,
  data: Digits,
  sink: ProgressSink,
  net: Sequential,
  kernels: WasmKernels,
  evalNet: Sequential,
  evalKernels: WasmKernels,
  t0: number,
): TrainResult {
  const shard = net.batch;
  net.init(new Rng(cfg.seed, 1));
  const shuffleRng = new Rng(cfg.seed, 2);
  const dropoutRng = new Rng(cfg.seed, 3);
  const shiftRng = new Rng(cfg.seed, 4), shift = cfg.shift ?? 0, tmp = new Float32Array(784);
  const ctx: RunContext = { gemm: kernels, train: true, uniform: () => dropoutRng.uniform() };
  const adam = new Adam(net.params, kernels);

  const nVal = Math.round(data.count * (cfg.validation ?? 0.05));
  const nTrain = data.count - nVal;
  const order = Uint32Array.from({ length: nTrain }, (_, i) => i);
  const valOrder = Uint32Array.from({ length: nVal }, (_, i) => nTrain + i);
  const labels = new Uint8Array(shard);
  const history: EpochReport[] = [];
  let lr = cfg.lr;

  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const te = performance.now();
    shuffleRng.shuffle(order);
    const bar = new EpochProgress(sink, `epoch ${epoch}/${cfg.epochs}`, nTrain);
    let lossSum = 0, correct = 0, seen = 0;
    for (let from = 0; from < nTrain; from += cfg.batch) {
      const n = Math.min(cfg.batch, nTrain - from);
      gatherBatch(data, order, from, n, net.x, labels);
      net.x.fill(0, n * 784);
      if (shift > 0) {
        for (let i = 0; i < n; i++) shiftImage(net.x, i * 784, shift, shiftRng, tmp);
      }
      for (const p of net.params) p.grad.fill(0);
      const r = net.trainStep(ctx, labels, n, n);
      adam.step(net.params, lr);
      lossSum += r.loss, correct += r.correct, seen += n;
      bar.update(seen, lossSum / seen, correct / seen);
    }
    let val: Score = { accuracy: NaN, loss: NaN };
    if (nVal > 0) {
      for (let i = 0; i < net.params.length; i++) {
        evalNet.params[i]!.value.set(net.params[i]!.value);
      }
      val = scoreNet(evalNet, evalKernels, data, valOrder);
    }
    const seconds = (performance.now() - te) / 1000;
    bar.finish(
      `val loss ${val.loss.toFixed(4)} acc ${(val.accuracy * 100).toFixed(2)}%` +
        ` (${nVal} held out) lr ${lr.toPrecision(3)}`,
    );
    history.push({
      epoch,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
      seconds,
    });
    lr *= cfg.lrDecay;
  }
  const params = new Map(net.params.map((p) => [p.name, new Float32Array(p.value)]));
  return { params, history, seconds: (performance.now() - t0) / 1000 };
}
