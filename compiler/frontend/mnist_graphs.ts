/**
 * The MNIST architectures as ggml builds them, from a {@link WeightSet}. Each builder follows
 * the source it names, asserts shapes after every step (via GraphBuilder), and takes sizes from
 * the weights wherever the graph allows.
 *
 * Graph input is always raw pixels 0..255 as f32; a `scale` node divides by 255 where the
 * original program does.
 *
 * @module
 */
import { type Graph, GraphBuilder } from "../ir/graph.ts";
import type { WeightSet, WeightTensor } from "./weights.ts";

/** MNIST images are 28x28 (ggml's MNIST_HW). */
export const MNIST_HW = 28;
/** Digit classes (ggml's MNIST_NCLASSES): every model's output has exactly 10 values. */
export const MNIST_CLASSES = 10;

/** The four MNIST model layouts this project reads. */
export type MnistLayout = "seed-cnn" | "seed-fc" | "ggml-fc" | "ggml-cnn";

function weight(b: GraphBuilder, w: WeightSet, t: WeightTensor): number {
  return b.weight(t.name, t.ne, t.type, w.finiteValues(t));
}

/**
 * Fully connected net: relu(fc1.weight x + fc1.bias), fc2.weight h + fc2.bias, soft_max.
 * `seed-fc` (seed main.cpp) feeds raw pixels; `ggml-fc` (mnist-common.cpp) feeds pixels / 255.
 */
export function buildFc(
  w: WeightSet,
  layout: "seed-fc" | "ggml-fc",
  name: string,
  batch: number,
): Graph {
  const fc1w = w.get("fc1.weight", [MNIST_HW * MNIST_HW, undefined]);
  const hidden = fc1w.ne[1]!;
  const fc1b = w.get("fc1.bias", [hidden]);
  const fc2w = w.get("fc2.weight", [hidden, MNIST_CLASSES]);
  const classes = fc2w.ne[1]!;
  const fc2b = w.get("fc2.bias", [classes]);

  const b = new GraphBuilder();
  const images = b.input("images", [MNIST_HW * MNIST_HW, batch]);
  const x = layout === "ggml-fc" ? b.scale(images, 1 / 255, "images/255") : images;
  const h = b.relu(
    b.add_(b.mulMat(weight(b, w, fc1w), x, "fc1"), weight(b, w, fc1b), "fc1+b"),
    "relu1",
  );
  const logits = b.add_(b.mulMat(weight(b, w, fc2w), h, "fc2"), weight(b, w, fc2b), "logits");
  const probs = b.softMax(logits, "probs");
  return b.build(images, probs, { layout, arch: "mnist-fc", name });
}

/** Tensor names of each CNN layout, in the order conv1, conv2, dense. */
const CNN_NAMES = {
  "seed-cnn": ["kernel1", "bias1", "kernel2", "bias2", "dense_w", "dense_b"],
  "ggml-cnn": [
    "conv1.kernel",
    "conv1.bias",
    "conv2.kernel",
    "conv2.bias",
    "dense.weight",
    "dense.bias",
  ],
} as const;

/**
 * CNN: [conv 3x3 + bias + relu + maxpool 2x2] twice, permute to channels-first-flatten
 * (ggml_permute(cur, 1, 2, 0, 3) + cont + reshape), dense, soft_max.
 * `seed-cnn` (seed main-cnn.cpp) uses valid convs (padding 0) and pre-broadcast biases;
 * `ggml-cnn` (HEAD mnist-common.cpp) pads by 1 and broadcasts [1,1,C] biases. Both feed pixels / 255.
 */
export function buildCnn(
  w: WeightSet,
  layout: "seed-cnn" | "ggml-cnn",
  name: string,
  batch: number,
): Graph {
  const [k1n, b1n, k2n, b2n, dwn, dbn] = CNN_NAMES[layout];
  const pad = layout === "seed-cnn" ? 0 : 1;
  const conv = { s0: 1, s1: 1, p0: pad, p1: pad, d0: 1, d1: 1 };
  const pool = { pool: "max" as const, k0: 2, k1: 2, s0: 2, s1: 2, p0: 0, p1: 0 };

  const k1 = w.get(k1n, [undefined, undefined, 1, undefined]);
  const k2 = w.get(k2n, [undefined, undefined, k1.ne[3], undefined]);

  const b = new GraphBuilder();
  const images = b.input("images", [MNIST_HW, MNIST_HW, 1, batch]);
  let cur = b.scale(images, 1 / 255, "images/255");

  cur = b.conv2d(weight(b, w, k1), cur, conv, "conv1");
  // The bias is either per channel [1,1,C] or pre-broadcast to the conv output [OW,OH,C,1].
  const b1 = w.get(b1n, [undefined, undefined, k1.ne[3]]);
  cur = b.relu(b.add_(cur, weight(b, w, b1), "conv1+b"), "relu1");
  cur = b.pool2d(cur, pool, "pool1");

  cur = b.conv2d(weight(b, w, k2), cur, conv, "conv2");
  const b2 = w.get(b2n, [undefined, undefined, k2.ne[3]]);
  cur = b.relu(b.add_(cur, weight(b, w, b2), "conv2+b"), "relu2");
  cur = b.pool2d(cur, pool, "pool2");

  const [pw, ph, pc] = b.node(cur).ne;
  cur = b.cont(b.permute(cur, [1, 2, 0, 3], "permute"), "cont");
  cur = b.reshape(cur, [pw * ph * pc, batch], "flatten");

  const dw = w.get(dwn, [pw * ph * pc, MNIST_CLASSES]);
  const db = w.get(dbn, [dw.ne[1]]);
  const logits = b.add_(b.mulMat(weight(b, w, dw), cur, "dense"), weight(b, w, db), "logits");
  const probs = b.softMax(logits, "probs");
  return b.build(images, probs, { layout, arch: "mnist-cnn", name });
}

/** The tensor names that identify each layout. */
export const LAYOUT_SIGNATURES: Record<MnistLayout, readonly string[]> = {
  "seed-cnn": CNN_NAMES["seed-cnn"],
  "ggml-cnn": CNN_NAMES["ggml-cnn"],
  "ggml-fc": ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"],
  "seed-fc": ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"],
};
