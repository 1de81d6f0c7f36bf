/**
 * Model files with seeded random weights for each layout, written with the project's own
 * writers, so tests of the frontend, passes and backends do not depend on trained models.
 * Shapes are parameters, so tests can use odd sizes; defaults are the real architectures'.
 *
 * @module
 */
import { gguf, writeGguf } from "../ggml/gguf_writer.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { quantize } from "../ggml/quant.ts";
import { writeLegacyGgml } from "../ggml/legacy.ts";
import { randomArray, rng } from "./random.ts";

/** A weight with its ggml shape and f32 values (before any F16 rounding). */
export interface TestWeight {
  name: string;
  ne: number[];
  type: GgmlType;
  values: Float32Array;
}

/** Channel counts of a random CNN. */
export interface CnnSizes {
  c1: number;
  c2: number;
}

function w(
  r: () => number,
  name: string,
  ne: number[],
  type = GgmlType.F32,
  scale = 0.1,
): TestWeight {
  return { name, ne, type, values: randomArray(r, ne.reduce((a, b) => a * b, 1), scale) };
}

/** Random weights of the seed CNN (valid convs, pre-broadcast biases, F16 kernels). */
export function seedCnnWeights(
  seed: number,
  { c1, c2 }: CnnSizes = { c1: 32, c2: 64 },
): TestWeight[] {
  const r = rng(seed);
  const b1 = randomArray(r, c1, 0.1), b2 = randomArray(r, c2, 0.1);
  // Pre-broadcast biases: every (x, y) copy equals the channel's bias, as the seed converter writes.
  const bias1 = new Float32Array(26 * 26 * c1).map((_, i) => b1[Math.floor(i / (26 * 26))]!);
  const bias2 = new Float32Array(11 * 11 * c2).map((_, i) => b2[Math.floor(i / (11 * 11))]!);
  return [
    w(r, "kernel1", [3, 3, 1, c1], GgmlType.F16, 0.5),
    { name: "bias1", ne: [26, 26, c1, 1], type: GgmlType.F32, values: bias1 },
    w(r, "kernel2", [3, 3, c1, c2], GgmlType.F16, 0.2),
    { name: "bias2", ne: [11, 11, c2, 1], type: GgmlType.F32, values: bias2 },
    w(r, "dense_w", [25 * c2, 10], GgmlType.F32, 0.1),
    w(r, "dense_b", [10]),
  ];
}

/** Random weights of ggml HEAD's CNN (padding 1, [1,1,C] biases). */
export function ggmlCnnWeights(
  seed: number,
  { c1, c2 }: CnnSizes = { c1: 8, c2: 16 },
): TestWeight[] {
  const r = rng(seed);
  return [
    w(r, "conv1.kernel", [3, 3, 1, c1], GgmlType.F32, 0.5),
    w(r, "conv1.bias", [1, 1, c1]),
    w(r, "conv2.kernel", [3, 3, c1, c2], GgmlType.F32, 0.3),
    w(r, "conv2.bias", [1, 1, c2]),
    w(r, "dense.weight", [49 * c2, 10], GgmlType.F32, 0.2),
    w(r, "dense.bias", [10]),
  ];
}

/** Random weights of the FC net (784 -> hidden -> 10). */
export function fcWeights(seed: number, hidden = 500): TestWeight[] {
  const r = rng(seed);
  return [
    w(r, "fc1.weight", [784, hidden], GgmlType.F32, 0.05),
    w(r, "fc1.bias", [hidden]),
    w(r, "fc2.weight", [hidden, 10], GgmlType.F32, 0.1),
    w(r, "fc2.bias", [10]),
  ];
}

/** A GGUF file holding `weights` with `general.architecture` = `arch`. */
export function ggufOf(arch: string, weights: TestWeight[], name = "test-model"): Uint8Array {
  return writeGguf({
    metadata: [["general.architecture", gguf.string(arch)], ["general.name", gguf.string(name)]],
    tensors: weights.map((t) => ({
      name: t.name,
      ne: t.ne,
      type: t.type,
      data: quantize(t.type, t.values),
    })),
  });
}

/** The seed's legacy ggml file for FC weights. */
export function legacyOf(weights: TestWeight[]): Uint8Array {
  return writeLegacyGgml(weights.map((t) => ({ ne: t.ne, data: t.values })));
}

/** Test model files of all four layouts with random weights, by layout name. */
export function randomModels(
  seed = 1,
): Record<"seed-cnn" | "seed-fc" | "ggml-fc" | "ggml-cnn", Uint8Array> {
  return {
    "seed-cnn": ggufOf("mnist-cnn", seedCnnWeights(seed)),
    "seed-fc": legacyOf(fcWeights(seed + 1)),
    "ggml-fc": ggufOf("mnist-fc", fcWeights(seed + 2)),
    "ggml-cnn": ggufOf("mnist-cnn", ggmlCnnWeights(seed + 3)),
  };
}
