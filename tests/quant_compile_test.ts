/**
 * Quantised weights (`compile --weights`): compiled modules against the interpreter on the
 * graph with dequantised weights, against an independent scalar implementation of ggml's
 * q8_0 x q8_0 vec_dot, WASM against TS, and test-set accuracy of the shipped models.
 *
 * @module
 */
import assert from "node:assert/strict";
import { compileFile, compileGraph, dequantizedGraph, type WeightFormat } from "../compiler/mod.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { type EmittedModule, loadEmittedSource } from "../compiler/emit/load.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { f16BitsToF32, f32BitsToF16Bits, quantize } from "../ggml/quant.ts";
import { runGraph } from "../reference/interpreter.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { randomImage, randomModel, rng } from "../testkit/random_graphs.ts";

const fround = Math.fround;

async function compiled(
  graph: Graph,
  o: Parameters<typeof compileGraph>[1],
): Promise<EmittedModule> {
  // f32 convs: these tests are about the dense layers (int8 convs: tests/conv_int8_test.ts).
  return await loadEmittedSource(
    compileGraph(graph, { poisonArena: true, conv: "f32", ...o }).source,
  );
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

// Dequantise-in-register paths compute with exactly the dequantised weights; only the f32
// summation order (and the relaxed FMA) differs from the interpreter: 1e-5 on probabilities.
const DEQUANT_TOL = 1e-5;
// f16 for the CNNs: Winograd convolutions store transformed kernels (G g G^T), and those are
// what the f16 weights section rounds, so the module's effective weights differ from the
// f16-rounded graph weights by about one f16 ulp of the transform: 1e-4 on probabilities
// (measured up to 5.5e-5 on these random nets).
const F16_WINOGRAD_TOL = 1e-4;

for (const layout of ["ggml-fc", "seed-fc", "ggml-cnn", "seed-cnn"] as const) {
  for (
    const [weights, quantCompute] of [["f16", "int8"], ["q8_0", "dequant"]] as const
  ) {
    Deno.test(`${layout} with --weights ${weights} (${quantCompute}) matches the interpreter on the dequantised graph`, async () => {
      const graph = randomModel(layout, 7);
      const ref = dequantizedGraph(compileGraph(graph, { weights }).graph, weights);
      const r = rng(3);
      for (const target of ["wasm", "ts"] as const) {
        for (const relaxed of target === "wasm" ? [true, false] : [false]) {
          const m = await compiled(graph, { weights, quantCompute, target, relaxed });
          for (let i = 0; i < 20; i++) {
            const x = randomImage(r);
            const d = maxDiff(m.predict(x).probabilities, runGraph(ref, x));
            const tol = weights === "f16" && layout.endsWith("cnn")
              ? F16_WINOGRAD_TOL
              : DEQUANT_TOL;
            assert.ok(d <= tol, `${target} relaxed=${relaxed} image ${i}: |dp| ${d}`);
          }
        }
      }
    });
  }
}

// An independent scalar q8_0 x q8_0 (ggml's quantize_row_q8_0_ref + ggml_vec_dot_q8_0_q8_0
// generic loop), for the FC nets: fc1 -> relu -> fc2 -> soft_max.

/** ggml quantize_row_q8_0_ref on one row (length a multiple of 32): [d per block, q values]. */
function quantizeRowQ8(x: Float32Array): { d: Float32Array; q: Int8Array } {
  const nb = x.length / 32;
  const d = new Float32Array(nb), q = new Int8Array(x.length);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const dd = fround(amax / 127);
    const id = dd ? fround(1 / dd) : 0;
    const h = f32BitsToF16Bits(new Uint32Array(new Float32Array([dd]).buffer)[0]!);
    d[b] = f16BitsToF32(h);
    for (let j = 0; j < 32; j++) {
      const v = fround(x[b * 32 + j]! * id);
      q[b * 32 + j] = v < 0 ? -Math.round(-v) : Math.round(v); // roundf: halves away from zero
    }
  }
  return { d, q };
}

/** A weight row's ggml block bytes decoded to (d, q) per block. */
function weightRow(type: GgmlType, row: Float32Array): { d: Float32Array; q: Int8Array } {
  const bytes = quantize(type, row);
  const bs = type === GgmlType.Q8_0 ? 34 : 18, nb = row.length / 32;
  const d = new Float32Array(nb), q = new Int8Array(row.length);
  for (let b = 0; b < nb; b++) {
    d[b] = f16BitsToF32(bytes[b * bs]! | (bytes[b * bs + 1]! << 8));
    for (let j = 0; j < 32; j++) {
      q[b * 32 + j] = type === GgmlType.Q8_0
        ? (bytes[b * bs + 2 + j]! << 24) >> 24
        : ((bytes[b * bs + 2 + (j % 16)]! >> (j < 16 ? 0 : 4)) & 15) - 8;
    }
  }
  return { d, q };
}

/** ggml's vec_dot: sumf += (float)sumi * (d_w * d_x) over blocks, in order. */
function vecDot(
  w: { d: Float32Array; q: Int8Array },
  x: { d: Float32Array; q: Int8Array },
): number {
  let sumf = 0;
  for (let b = 0; b < w.d.length; b++) {
    let sumi = 0;
    for (let j = 0; j < 32; j++) sumi += w.q[b * 32 + j]! * x.q[b * 32 + j]!;
    sumf = fround(sumf + fround(sumi * fround(w.d[b]! * x.d[b]!)));
  }
  return sumf;
}

/** The FC net with ggml's quantised mul_mat, from the optimised graph's weights. */
function ggmlFc(graph: Graph, type: GgmlType): (x: Float32Array) => Float32Array {
  const layers: { rows: { d: Float32Array; q: Int8Array }[]; bias: Float32Array; K: number }[] = [];
  for (const n of graph.nodes) {
    if (n.op.kind !== "mul_mat") continue;
    const w = graph.nodes[n.src[0]!]!;
    const add = graph.nodes.find((u) => u.op.kind === "add" && u.src[0] === n.id)!;
    const b = graph.nodes[add.src[1]!]!;
    if (w.op.kind !== "weight" || b.op.kind !== "weight") throw new Error("not an FC net");
    const [K, M] = w.ne;
    const kPad = Math.ceil(K / 32) * 32;
    const rows = [];
    for (let m = 0; m < M; m++) {
      const row = new Float32Array(kPad);
      row.set(w.op.values.subarray(m * K, (m + 1) * K));
      rows.push(weightRow(type, row));
    }
    layers.push({ rows, bias: b.op.values, K });
  }
  return (input) => {
    let x = input;
    layers.forEach((l, i) => {
      const xp = new Float32Array(l.rows[0]!.q.length);
      xp.set(x.subarray(0, l.K));
      const xq = quantizeRowQ8(xp);
      const y = new Float32Array(l.rows.length);
      for (let m = 0; m < y.length; m++) {
        const v = fround(vecDot(l.rows[m]!, xq) + l.bias[m]!);
        y[m] = i < layers.length - 1 ? Math.max(0, v) : v;
      }
      x = y;
    });
    let max = -Infinity, sum = 0;
    for (const v of x) max = Math.max(max, v);
    const p = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      (p[i] = fround(Math.exp(x[i]! - max)), sum = fround(sum + p[i]!));
    }
    for (let i = 0; i < x.length; i++) p[i] = p[i]! / sum;
    return p;
  };
}

for (const [weights, type] of [["q8_0", GgmlType.Q8_0], ["q4_0", GgmlType.Q4_0]] as const) {
  Deno.test(`FC nets with --weights ${weights} compute ggml's ${weights} x q8_0 vec_dot exactly (WASM relaxed, plain, TS)`, async () => {
    for (const layout of ["ggml-fc", "seed-fc"] as const) {
      const graph = randomModel(layout, 11);
      const ref = ggmlFc(compileGraph(graph, { weights }).graph, type);
      const r = rng(5);
      const mods = [
        await compiled(graph, { weights, relaxed: true }),
        await compiled(graph, { weights, relaxed: false }),
        await compiled(graph, { weights, target: "ts" }),
      ];
      for (let i = 0; i < 20; i++) {
        const x = randomImage(r);
        const want = ref(x);
        // The kernels do the scalar reference's operations in its order: bit-exact up to the
        // soft_max's division (1e-7 allows one f32 ulp of a probability).
        for (const m of mods) {
          const d = maxDiff(m.predict(x).probabilities, want);
          assert.ok(d <= 1e-7, `${layout} ${m.backend()} image ${i}: |dp| ${d}`);
        }
      }
    }
  });
}

Deno.test("CNN nets with --weights q8_0 / q4_0: WASM (relaxed, plain) and TS agree", async () => {
  for (const layout of ["ggml-cnn", "seed-cnn"] as const) {
    for (const weights of ["q8_0", "q4_0"] as const) {
      const graph = randomModel(layout, 13);
      const mods = [
        await compiled(graph, { weights, relaxed: true }),
        await compiled(graph, { weights, relaxed: false }),
        await compiled(graph, { weights, target: "ts" }),
      ];
      const r = rng(9);
      for (let i = 0; i < 10; i++) {
        const x = randomImage(r);
        const want = Float32Array.from(mods[2]!.predict(x).probabilities);
        const digit = mods[2]!.predict(x).digit;
        for (const m of mods.slice(0, 2)) {
          // The f32 conv layers differ by ulps between targets (FMA, Winograd), which can flip
          // the rounding of a quantised activation by one int8 step (1/127 of its block's
          // amax): 1e-2 on probabilities, and the same digit.
          const d = maxDiff(m.predict(x).probabilities, want);
          assert.ok(d <= 1e-2, `${layout} ${weights} ${m.backend()}: |dp| ${d}`);
          assert.equal(m.predict(x).digit, digit);
        }
      }
    }
  }
});

// Accuracy of the shipped models on the 10,000 test images.
const ROOT = new URL("../", import.meta.url);
const MODELS = ["models/mnist-fc.gguf", "models/mnist-cnn.gguf", "models/mnist-cnn-small.gguf"];

function tryRead(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(new URL(path, ROOT));
  } catch {
    return undefined;
  }
}

for (const path of MODELS) {
  const bytes = tryRead(path);
  if (!bytes) console.log(`note: ${path} is absent; its accuracy test is skipped`);
  Deno.test({
    name: `${path}: q8_0 and f16 stay within 0.1 percentage point of f32 on the 10,000 test images`,
    ignore: !bytes,
    async fn() {
      const { images, labels } = loadMnist("test");
      const acc: Record<string, number> = {};
      for (const weights of ["f32", "f16", "q8_0", "q4_0"] as WeightFormat[]) {
        const m = await loadEmittedSource(compileFile(bytes!, path, { weights }).source);
        const { digits } = m.predictBatch(images.pixels, images.count);
        let ok = 0;
        for (let i = 0; i < images.count; i++) if (digits[i] === labels[i]) ok++;
        acc[weights] = (100 * ok) / images.count;
      }
      console.log(`${path} accuracy %: ${JSON.stringify(acc)}`);
      assert.ok(Math.abs(acc.q8_0! - acc.f32!) <= 0.1, `q8_0 ${acc.q8_0} vs f32 ${acc.f32}`);
      assert.ok(Math.abs(acc.f16! - acc.f32!) <= 0.1, `f16 ${acc.f16} vs f32 ${acc.f32}`);
      // q4_0 is stated, not bound by the 0.1 pp rule; it must not fall apart (1 pp).
      assert.ok(acc.q4_0! >= acc.f32! - 1, `q4_0 ${acc.q4_0} vs f32 ${acc.f32}`);
    },
  });
}
