/**
 * Shared helpers of the compiler tests: random-weight models of the four layouts (built by the
 * real frontend builders), random odd-shaped graphs, and comparison against the interpreter.
 *
 * @module
 */
import { buildCnn, buildFc } from "../compiler/frontend/mnist_graphs.ts";
import { WeightSet, type WeightTensor } from "../compiler/frontend/weights.ts";
import { type Graph, GraphBuilder, type WeightType } from "../compiler/ir/graph.ts";
import { runGraph } from "../reference/interpreter.ts";

// The seeded PRNG and uniform arrays are the tests' shared ones (same sequences as before).
import { randomArray as randomValues, rng } from "./random.ts";
export { randomValues, rng };

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

/** One conv layer of {@link convNet}. */
export interface ConvSpec {
  /** Kernel [kw, kh], output channels, stride [s0, s1], padding [p0, p1]. */
  readonly k: readonly [number, number];
  readonly c: number;
  readonly s?: readonly [number, number];
  readonly p?: readonly [number, number];
  /** Bias: per channel [1,1,C], full [OW,OH,C] (random, so it cannot collapse), or none. */
  readonly bias?: "channel" | "full" | "none";
  readonly relu?: boolean;
  readonly pool?: {
    readonly pool: "max" | "avg";
    readonly k: readonly [number, number];
    readonly s: readonly [number, number];
    readonly p?: readonly [number, number];
  };
}

/** A random conv net on a W x H one-channel image: convs, permute+cont+flatten, dense. */
export interface ConvNetSpec {
  readonly w: number;
  readonly h: number;
  readonly convs: readonly ConvSpec[];
  readonly classes: number;
  /** Input scaled by 1/255 first (as the MNIST CNNs do). */
  readonly scale?: boolean;
  /** End with soft_max (default) or return the logits. */
  readonly softmax?: boolean;
}

/** Builds the graph of a {@link ConvNetSpec} with random weights. */
export function convNet(spec: ConvNetSpec, seed = 1): Graph {
  const r = rng(seed);
  const b = new GraphBuilder();
  const images = b.input("images", [spec.w, spec.h]);
  let cur = spec.scale ? b.scale(images, 1 / 255, "images/255") : images;
  let cin = 1;
  spec.convs.forEach((c, i) => {
    const [kw, kh] = c.k;
    const fan = kw * kh * cin;
    const kernel = b.weight(
      `k${i}`,
      [kw, kh, cin, c.c],
      "f32",
      randomValues(r, fan * c.c, (spec.scale || i > 0 ? 1.5 : 1.5 / 255) / Math.sqrt(fan)),
    );
    const [s0, s1] = c.s ?? [1, 1];
    const [p0, p1] = c.p ?? [0, 0];
    cur = b.conv2d(kernel, cur, { s0, s1, p0, p1, d0: 1, d1: 1 }, `conv${i}`);
    const ne = b.node(cur).ne;
    if ((c.bias ?? "channel") === "channel") {
      cur = b.add_(
        cur,
        b.weight(`b${i}`, [1, 1, c.c], "f32", randomValues(r, c.c, 0.2)),
        `conv${i}+b`,
      );
    } else if (c.bias === "full") {
      const n = ne[0] * ne[1] * ne[2];
      cur = b.add_(
        cur,
        b.weight(`b${i}`, [ne[0], ne[1], ne[2]], "f32", randomValues(r, n, 0.2)),
        `conv${i}+b`,
      );
    }
    if (c.relu ?? true) cur = b.relu(cur, `relu${i}`);
    if (c.pool) {
      const [pk0, pk1] = c.pool.k, [ps0, ps1] = c.pool.s, [pp0, pp1] = c.pool.p ?? [0, 0];
      cur = b.pool2d(cur, {
        pool: c.pool.pool,
        k0: pk0,
        k1: pk1,
        s0: ps0,
        s1: ps1,
        p0: pp0,
        p1: pp1,
      }, `pool${i}`);
    }
    cin = c.c;
  });
  const [w, h, ch] = b.node(cur).ne;
  cur = b.cont(b.permute(cur, [1, 2, 0, 3], "permute"), "cont");
  cur = b.reshape(cur, [w * h * ch, 1], "flatten");
  const dw = b.weight(
    "dense.w",
    [w * h * ch, spec.classes],
    "f32",
    randomValues(r, w * h * ch * spec.classes, 2 / Math.sqrt(w * h * ch)),
  );
  const db = b.weight("dense.b", [spec.classes], "f32", randomValues(r, spec.classes, 0.1));
  const logits = b.add_(b.mulMat(dw, cur, "dense"), db, "logits");
  const out = spec.softmax === false ? logits : b.softMax(logits, "probs");
  return b.build(images, out, { layout: "test", arch: "test-cnn", name: "odd conv net" });
}

/** Odd shapes every kernel test runs: padding 0/1/2, stride 2, pools with padding, avg, non-square. */
export const ODD_NETS: readonly { readonly name: string; readonly spec: ConvNetSpec }[] = [
  {
    name: "5x3 kernel, pad 2,1, 5 channels, avg pool 3x2/3 with padding 1",
    spec: {
      w: 17,
      h: 13,
      convs: [{
        k: [5, 3],
        c: 5,
        p: [2, 1],
        pool: { pool: "avg", k: [3, 2], s: [3, 2], p: [1, 1] },
      }],
      classes: 7,
      softmax: false,
    },
  },
  {
    name: "stride 2, full bias, no relu, overlapping max pool 3x3/2",
    spec: {
      w: 15,
      h: 19,
      convs: [{
        k: [3, 3],
        c: 6,
        s: [2, 2],
        p: [1, 1],
        bias: "full",
        relu: false,
        pool: { pool: "max", k: [3, 3], s: [2, 2] },
      }],
      classes: 5,
      softmax: false,
    },
  },
  {
    name: "two convs, 2x2 max pools, 12 then 20 channels, /255 input",
    spec: {
      w: 20,
      h: 14,
      scale: true,
      convs: [{ k: [3, 3], c: 12, pool: { pool: "max", k: [2, 2], s: [2, 2] } }, {
        k: [3, 2],
        c: 20,
        p: [1, 0],
        pool: { pool: "max", k: [2, 2], s: [2, 2] },
      }],
      classes: 10,
    },
  },
  {
    name: "no pool, stride 2,1, no bias, 3 channels",
    spec: {
      w: 11,
      h: 9,
      convs: [{ k: [2, 4], c: 3, s: [2, 1], p: [0, 2], bias: "none" }],
      classes: 4,
      softmax: false,
    },
  },
  {
    name: "max pool with padding 1 (windows clipped), 36 channels",
    spec: {
      w: 10,
      h: 12,
      convs: [{ k: [3, 3], c: 36, pool: { pool: "max", k: [2, 2], s: [2, 2], p: [1, 1] } }],
      classes: 3,
    },
  },
  {
    name: "3x3 convs of 8 then 16 channels (Winograd), the second padded with an avg pool",
    spec: {
      w: 13,
      h: 11,
      convs: [{ k: [3, 3], c: 8, pool: { pool: "max", k: [2, 2], s: [2, 2] } }, {
        k: [3, 3],
        c: 16,
        p: [1, 1],
        pool: { pool: "avg", k: [2, 2], s: [2, 2] },
      }],
      classes: 6,
      softmax: false,
    },
  },
  {
    name: "3x3 convs of 12 then 8 channels (Winograd), no bias, no relu, odd tile count",
    spec: {
      w: 16,
      h: 12,
      convs: [{ k: [3, 3], c: 12, pool: { pool: "max", k: [2, 2], s: [2, 2] } }, {
        k: [3, 3],
        c: 8,
        bias: "none",
        relu: false,
        pool: { pool: "max", k: [2, 2], s: [2, 2] },
      }],
      classes: 5,
      softmax: false,
    },
  },
];
