import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { runGraph } from "../reference/interpreter.ts";
import { FormatError } from "../ggml/errors.ts";
import {
  fcWeights,
  ggmlCnnWeights,
  ggufOf,
  legacyOf,
  seedCnnWeights,
  type TestWeight,
} from "../testkit/models.ts";
import { randomPixels, rng } from "../testkit/random.ts";

/**
 * The forward passes below are written independently of the IR: explicit channel-first loops
 * with the index formulas of each layout, f64 sums. Weights are rounded as the file stores
 * them (F16 kernels through Math.f16round) because the frontend reads the file's values.
 */
function stored(t: TestWeight): Float32Array {
  return t.type === 1 ? t.values.map((v) => Math.f16round(v)) : t.values;
}

function softmax(logits: number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** conv 3x3 (padding p) + per-channel bias + relu on a [C][H][W] image, then 2x2/2 max-pool. */
function convReluPool(
  x: Float64Array[],
  size: number,
  k: Float32Array,
  bias: (co: number) => number,
  cout: number,
  p: number,
): { maps: Float64Array[]; size: number } {
  const cin = x.length, out = size + 2 * p - 2, pooled = Math.floor(out / 2);
  const maps: Float64Array[] = [];
  for (let co = 0; co < cout; co++) {
    const conv = new Float64Array(out * out);
    for (let y = 0; y < out; y++) {
      for (let xx = 0; xx < out; xx++) {
        let s = bias(co);
        for (let ci = 0; ci < cin; ci++) {
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const iy = y + ky - p, ix = xx + kx - p;
              if (iy < 0 || iy >= size || ix < 0 || ix >= size) continue;
              s += k[kx + 3 * (ky + 3 * (ci + cin * co))]! * x[ci]![iy * size + ix]!;
            }
          }
        }
        conv[y * out + xx] = Math.max(0, s);
      }
    }
    const pool = new Float64Array(pooled * pooled);
    for (let y = 0; y < pooled; y++) {
      for (let xx = 0; xx < pooled; xx++) {
        pool[y * pooled + xx] = Math.max(
          conv[2 * y * out + 2 * xx]!,
          conv[2 * y * out + 2 * xx + 1]!,
          conv[(2 * y + 1) * out + 2 * xx]!,
          conv[(2 * y + 1) * out + 2 * xx + 1]!,
        );
      }
    }
    maps.push(pool);
  }
  return { maps, size: pooled };
}

function cnnForward(
  ws: TestWeight[],
  pixels: Uint8Array,
  pad: number,
  perChannelBias: boolean,
): number[] {
  const [k1, b1, k2, b2, dw, db] = ws.map(stored);
  const c1 = ws[0]!.ne[3]!, c2 = ws[2]!.ne[3]!;
  // Pre-broadcast biases hold the channel's value at every (x, y): read the first copy.
  const bias = (b: Float32Array, plane: number) => (co: number) =>
    b[perChannelBias ? co : co * plane]!;
  const img = [Float64Array.from(pixels, (v) => v / 255)];
  const l1 = convReluPool(img, 28, k1!, bias(b1!, 26 * 26), c1, pad);
  const l2 = convReluPool(l1.maps, l1.size, k2!, bias(b2!, 11 * 11), c2, pad);
  // Dense input is channels-fastest: index c + C * (x + W * y).
  const n = l2.size, flat = new Float64Array(c2 * n * n);
  for (let c = 0; c < c2; c++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) flat[c + c2 * (x + n * y)] = l2.maps[c]![y * n + x]!;
    }
  }
  const logits = Array.from({ length: 10 }, (_, m) => {
    let s = db![m]!;
    for (let i = 0; i < flat.length; i++) s += dw![i + flat.length * m]! * flat[i]!;
    return s;
  });
  return softmax(logits);
}

function fcForward(ws: TestWeight[], pixels: Uint8Array, inputScale: number): number[] {
  const [w1, b1, w2, b2] = ws.map(stored);
  const hidden = ws[0]!.ne[1]!;
  const h = Array.from({ length: hidden }, (_, m) => {
    let s = b1![m]!;
    for (let k = 0; k < 784; k++) s += w1![k + 784 * m]! * pixels[k]! * inputScale;
    return Math.max(0, s);
  });
  return softmax(Array.from({ length: 10 }, (_, m) => {
    let s = b2![m]!;
    for (let k = 0; k < hidden; k++) s += w2![k + hidden * m]! * h[k]!;
    return s;
  }));
}

function check(
  file: Uint8Array,
  name: string,
  layout: string,
  forward: (p: Uint8Array) => number[],
) {
  const { graph, layout: got } = loadModel(file, name);
  assertEquals(got, layout);
  const r = rng(11);
  for (let i = 0; i < 3; i++) {
    const pixels = randomPixels(r, 784);
    const probs = runGraph(graph, Float32Array.from(pixels), { f64: true });
    const want = forward(pixels);
    // f64 sums on both sides; they differ only by f32 storage of intermediates (~1e-7 relative).
    for (let c = 0; c < 10; c++) {
      assert(Math.abs(probs[c]! - want[c]!) < 1e-5, `${layout} class ${c}`);
    }
  }
}

Deno.test("seed CNN (GGUF, F16 kernels, pre-broadcast biases) matches an independent forward pass", () => {
  const ws = seedCnnWeights(3, { c1: 4, c2: 6 });
  check(ggufOf("mnist-cnn", ws), "seed.gguf", "seed-cnn", (p) => cnnForward(ws, p, 0, false));
});

Deno.test("ggml HEAD CNN (padding 1, [1,1,C] biases) matches an independent forward pass", () => {
  const ws = ggmlCnnWeights(4, { c1: 3, c2: 5 });
  check(ggufOf("mnist-cnn", ws), "cnn.gguf", "ggml-cnn", (p) => cnnForward(ws, p, 1, true));
});

Deno.test("ggml HEAD FC (GGUF, input / 255) matches an independent forward pass", () => {
  const ws = fcWeights(5, 37);
  check(ggufOf("mnist-fc", ws), "fc.gguf", "ggml-fc", (p) => fcForward(ws, p, 1 / 255));
});

Deno.test("seed FC (legacy ggml file, raw pixels) matches an independent forward pass", () => {
  const ws = fcWeights(6, 29);
  check(legacyOf(ws), "ggml-model-f32.bin", "seed-fc", (p) => fcForward(ws, p, 1));
});

Deno.test("loadModel() names the tensor whose shape is wrong", () => {
  const ws = fcWeights(7, 20);
  ws[1]!.ne = [21];
  ws[1]!.values = new Float32Array(21);
  assertThrows(
    () => loadModel(ggufOf("mnist-fc", ws), "bad.gguf"),
    FormatError,
    "tensor 'fc1.bias' ne",
  );
});

Deno.test("loadModel() lists the supported models for an unknown architecture", () => {
  const e = assertThrows(
    () => loadModel(ggufOf("llama", fcWeights(8, 4)), "x.gguf"),
    FormatError,
    "general.architecture",
  );
  assert(e.message.includes("seed CNN") && e.message.includes("ggml mnist-fc"));
  assertThrows(
    () => loadModel(ggufOf("mnist-cnn", fcWeights(8, 4)), "y.gguf"),
    FormatError,
    "supported model",
  );
});

Deno.test("loadModel() builds a batched graph whose images are independent", () => {
  const ws = ggmlCnnWeights(9, { c1: 2, c2: 3 });
  const file = ggufOf("mnist-cnn", ws);
  const one = loadModel(file, "m.gguf").graph;
  const three = loadModel(file, "m.gguf", { batch: 3 }).graph;
  const r = rng(2);
  const imgs = randomPixels(r, 3 * 784);
  const batched = runGraph(three, Float32Array.from(imgs));
  for (let i = 0; i < 3; i++) {
    const single = runGraph(one, Float32Array.from(imgs.subarray(i * 784, (i + 1) * 784)));
    assertEquals(Array.from(batched.subarray(i * 10, i * 10 + 10)), Array.from(single));
  }
});

Deno.test("loadModel() refuses a weight holding NaN or an infinity and names the element", () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const ws = fcWeights(10, 8);
    ws[0]!.values[5] = bad;
    assertThrows(
      () => loadModel(ggufOf("mnist-fc", ws), "nan.gguf"),
      FormatError,
      "tensor 'fc1.weight' element 5",
    );
  }
});
