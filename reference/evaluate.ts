/**
 * Test-set evaluation with ggml's mnist-eval statistics: accuracy with its binomial standard
 * error, and the cross-entropy loss averaged per physical batch of 500 images with the standard
 * error of those batch means (ggml_opt_result_loss / ggml_opt_result_accuracy).
 *
 * @module
 */
import { argmax } from "./interpreter.ts";

/** Anything that turns `count` images (784 raw pixels each) into `count * 10` probabilities. */
export interface Predictor {
  /** What runs the model, e.g. `interpreter` or `wasm-simd128`. */
  readonly engine: string;
  /** Probabilities for each image; the returned array may be reused by the next call. */
  predictBatch(images: Uint8Array, count: number): Float32Array | Promise<Float32Array>;
  /** Images per call that suit this engine (a worker pool wants large batches). */
  readonly batch?: number;
  /** Releases what the engine holds (workers). */
  close?(): Promise<void>;
}

/** The figures `ggufc eval` prints. */
export interface EvalResult {
  readonly images: number;
  readonly ms: number;
  readonly usPerImage: number;
  readonly loss: number;
  readonly lossUnc: number;
  /** Fraction correct, 0..1. */
  readonly accuracy: number;
  readonly accuracyUnc: number;
  /** Predicted digit per image. */
  readonly predictions: Uint8Array;
}

/** ggml's physical batch for evaluation (MNIST_NBATCH_PHYSICAL). */
export const LOSS_BATCH = 500;

/**
 * Runs `predictor` over all images and scores it against `labels`.
 *
 * @param predictor the engine
 * @param pixels `count * 784` raw pixels
 * @param labels one label per image
 * @param chunk images per predictBatch call (default: the predictor's preferred batch, or 100)
 * @returns accuracy, loss and timing
 */
export async function evaluate(
  predictor: Predictor,
  pixels: Uint8Array,
  labels: Uint8Array,
  chunk = predictor.batch ?? 100,
): Promise<EvalResult> {
  const n = labels.length;
  const inputSize = pixels.length / n;
  const predictions = new Uint8Array(n);
  const losses = new Float64Array(n);
  const t0 = performance.now();
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const probs = await predictor.predictBatch(
      pixels.subarray(start * inputSize, (start + count) * inputSize),
      count,
    );
    const classes = probs.length / count;
    for (let i = 0; i < count; i++) {
      predictions[start + i] = argmax(probs, i * classes, classes);
      // Cross-entropy of the softmax output; clamp like ggml's cross_entropy_loss (eps 1e-9).
      losses[start + i] = -Math.log(Math.max(probs[i * classes + labels[start + i]!]!, 1e-9));
    }
  }
  const ms = performance.now() - t0;

  let correct = 0;
  for (let i = 0; i < n; i++) if (predictions[i] === labels[i]) correct++;
  const accuracy = correct / n;
  const accuracyUnc = n > 1 ? Math.sqrt(accuracy * (1 - accuracy) / (n - 1)) : NaN;

  // Per-batch mean losses, then mean and standard error over batches, as ggml reports them.
  const batchMeans: number[] = [];
  for (let s = 0; s < n; s += LOSS_BATCH) {
    const e = Math.min(n, s + LOSS_BATCH);
    let sum = 0;
    for (let i = s; i < e; i++) sum += losses[i]!;
    batchMeans.push(sum / (e - s));
  }
  const nb = batchMeans.length;
  const mean = batchMeans.reduce((a, b) => a + b, 0) / nb;
  const meanSq = batchMeans.reduce((a, b) => a + b * b, 0) / nb;
  const lossUnc = nb > 1 ? Math.sqrt(Math.max(0, meanSq - mean * mean) / (nb - 1)) : NaN;

  return {
    images: n,
    ms,
    usPerImage: (ms * 1000) / n,
    loss: mean,
    lossUnc,
    accuracy,
    accuracyUnc,
    predictions,
  };
}
