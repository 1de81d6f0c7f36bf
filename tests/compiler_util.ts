/**
 * Shared helpers of the compiler tests: random-weight models of the four layouts (built by the
 * real frontend builders), random odd-shaped graphs, and comparison against the interpreter.
 *
 * @module
 */
import { buildCnn, buildFc } from "../compiler/frontend/mnist_graphs.ts";
import { WeightSet, type WeightTensor } from "../compiler/frontend/weights.ts";
import type { Graph, WeightType } from "../compiler/ir/graph.ts";
import { runGraph } from "../runtime/interpreter.ts";

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-scale, scale). */
export function randomValues(r: () => number, n: number, scale: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return v;
}

/** A random MNIST-like image: raw values 0..255, about 80% zeros like real digits. */
export function randomImage(r: () => number, n = 784): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r() < 0.8 ? 0 : Math.floor(r() * 256);
  return v;
}

function tensor(
  name: string,
  ne: number[],
  values: Float32Array,
  type: WeightType = "f32",
): WeightTensor {
  return { name, ne, type, fileOffset: 0, values: () => values };
}

/** The four model layouts. */
export type Layout = "seed-cnn" | "seed-fc" | "ggml-fc" | "ggml-cnn";
/** All four. */
export const LAYOUTS: readonly Layout[] = ["seed-cnn", "seed-fc", "ggml-fc", "ggml-cnn"];

/**
 * A model of `layout` with random weights, built by the frontend's builders.
 * Weight scales keep activations O(1) so softmax outputs are not saturated.
 */
export function randomModel(layout: Layout, seed = 1, batch = 1): Graph {
  const r = rng(seed);
  if (layout === "seed-fc" || layout === "ggml-fc") {
    const s1 = layout === "seed-fc" ? 1 / 255 / 8 : 1 / 8;
    const w = new WeightSet("random", [
      tensor("fc1.weight", [784, 500], randomValues(r, 784 * 500, s1)),
      tensor("fc1.bias", [500], randomValues(r, 500, 0.1)),
      tensor("fc2.weight", [500, 10], randomValues(r, 5000, 0.2)),
      tensor("fc2.bias", [10], randomValues(r, 10, 0.1)),
    ]);
    return buildFc(w, layout, `random ${layout}`, batch);
  }
  if (layout === "seed-cnn") {
    const b1 = new Float32Array(26 * 26 * 32);
    const c1 = randomValues(r, 32, 0.1);
    for (let i = 0; i < b1.length; i++) b1[i] = c1[Math.floor(i / 676)]!;
    const b2 = new Float32Array(11 * 11 * 64);
    const c2 = randomValues(r, 64, 0.1);
    for (let i = 0; i < b2.length; i++) b2[i] = c2[Math.floor(i / 121)]!;
    const w = new WeightSet("random", [
      tensor("kernel1", [3, 3, 1, 32], randomValues(r, 288, 0.5), "f16"),
      tensor("bias1", [26, 26, 32, 1], b1),
      tensor("kernel2", [3, 3, 32, 64], randomValues(r, 9 * 32 * 64, 0.1), "f16"),
      tensor("bias2", [11, 11, 64, 1], b2),
      tensor("dense_w", [1600, 10], randomValues(r, 16000, 0.05)),
      tensor("dense_b", [10], randomValues(r, 10, 0.1)),
    ]);
    return buildCnn(w, "seed-cnn", "random seed-cnn", batch);
  }
  const w = new WeightSet("random", [
    tensor("conv1.kernel", [3, 3, 1, 8], randomValues(r, 72, 0.5)),
    tensor("conv1.bias", [1, 1, 8], randomValues(r, 8, 0.1)),
    tensor("conv2.kernel", [3, 3, 8, 16], randomValues(r, 9 * 8 * 16, 0.3)),
    tensor("conv2.bias", [1, 1, 16], randomValues(r, 16, 0.1)),
    tensor("dense.weight", [784, 10], randomValues(r, 7840, 0.1)),
    tensor("dense.bias", [10], randomValues(r, 10, 0.1)),
  ]);
  return buildCnn(w, "ggml-cnn", "random ggml-cnn", batch);
}

/** Largest |a[i] - b[i]|. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i]! - b[i]!);
    if (!(x <= d)) d = x; // NaN propagates
  }
  return d;
}

/** The interpreter's output for `graph` on `input`. */
export function reference(graph: Graph, input: Float32Array): Float32Array {
  return runGraph(graph, input);
}
