/**
 * int8 convolutions (`--conv int8`, compiler/codegen/conv2d_int8.ts) on random shapes: 1 to 32
 * input channels, runs of a kernel row that are not whole quads (kw * cip = 3, 5, 24, 160),
 * padding, strides, no pool and max pools of 1x2 / 2x2, the unrolled and the looped inner
 * loop, channel counts that are not multiples of 4.
 *
 * Each conv call is run alone in WASM (both variants: relaxed-SIMD int8 dot and plain
 * `i32x4.dot_i16x8_s`) on the input the previous calls produced, and its output is checked
 * - bit for bit against the scalar model of the int8 arithmetic (conv2d_int8_quant.ts), in both
 *   variants (so they agree with each other exactly), and
 * - against the exact (f64) convolution + bias + relu + pool of the same f32 input, within the
 *   rounding bound of the quantisation: per conv position, sum over taps of
 *   |w| sx / 2 + |x| sw / 2 + sx sw / 4 (sx, sw the steps of input and weights), plus 1e-5
 *   relative for the f32 scaling; a max pool moves no value by more than the largest bound of
 *   its window.
 * End to end, the nets' probabilities stay within 0.05 of the reference interpreter's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { bundleJs, compileFile, compileGraph, planGraph } from "../compiler/mod.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { generateWasm } from "../compiler/codegen/wasm_backend.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import {
  int8ConvReference,
  int8Eligible,
  quantizeConvWeights,
} from "../compiler/codegen/conv2d_int8_quant.ts";
import { nonNegative } from "../compiler/plan/quantize_weights.ts";
import type { ConvKernel, Plan } from "../compiler/plan/plan.ts";
import {
  convNet,
  type ConvNetSpec,
  randomImage,
  reference,
  rng,
} from "../testkit/random_graphs.ts";
import { runNodeScript } from "./helpers/node.ts";

const NETS: readonly { name: string; spec: ConvNetSpec }[] = [
  {
    name: "MNIST-like: 1 -> 8 channels 3x3 + max pool 2x2, 8 -> 12 3x3 pad 1 + max pool 2x2",
    spec: {
      w: 28,
      h: 28,
      scale: true,
      convs: [
        { k: [3, 3], c: 8, pool: { pool: "max", k: [2, 2], s: [2, 2] } },
        { k: [3, 3], c: 12, p: [1, 1], pool: { pool: "max", k: [2, 2], s: [2, 2] } },
      ],
      classes: 10,
    },
  },
  {
    name: "5x3 kernel, stride 2, pad 2,1, 6 channels, no pool; then 3x3 with no bias, no relu",
    spec: {
      w: 19,
      h: 15,
      convs: [
        { k: [5, 3], c: 6, s: [2, 2], p: [2, 1] },
        { k: [3, 3], c: 5, bias: "none", relu: false, pool: { pool: "max", k: [1, 2], s: [1, 2] } },
      ],
      classes: 7,
      softmax: false,
    },
  },
  {
    name: "32 channels, then a 5x5 conv over them (looped rows: 5 x 40 quads), 3 channels",
    spec: {
      w: 16,
      h: 14,
      scale: true,
      convs: [
        { k: [3, 3], c: 32, pool: { pool: "max", k: [2, 2], s: [1, 1] } },
        { k: [5, 5], c: 3, p: [1, 2] },
      ],
      classes: 4,
    },
  },
];

/** Runs the plan's kernels 0..i in one WASM variant and returns conv i's input and output. */
async function runConv(
  plan: Plan,
  i: number,
  image: Float32Array,
  relaxed: boolean,
): Promise<{ input: Float32Array; output: Float32Array }> {
  const be = generateWasm(plan, { relaxed: true, int8Conv: { relaxed: true, plain: true } });
  const code = new Uint8Array(relaxed ? be.relaxed! : be.simd);
  const { instance } = await WebAssembly.instantiate(code, { m: { exp: Math.exp } });
  const ex = instance.exports as Record<string, () => void> & { memory: WebAssembly.Memory };
  const mem = ex.memory.buffer;
  new Uint8Array(mem, be.weightsAt, be.weights.length).set(be.weights);
  // NaN everywhere but the weights: a read of anything unwritten shows in the output.
  new Float32Array(mem, 0, be.weightsAt / 4).fill(NaN);
  new Float32Array(mem, plan.buffers[plan.input]!.offset, image.length).set(image);
  for (let j = 0; j <= i; j++) ex[`k${j}`]!();
  const k = plan.kernels[i] as ConvKernel;
  const floats = (buf: number, n: number) =>
    new Float32Array(mem, plan.buffers[buf]!.offset, n).slice();
  return {
    input: floats(k.src, k.input.w * k.input.h * k.input.cp),
    output: floats(k.dst, k.output.w * k.output.h * k.output.cp),
  };
}

/** The exact conv (+ bias, relu, max pool) in f64, and the quantisation bound per output. */
function exactWithBound(k: ConvKernel, x: Float32Array): { y: Float64Array; bound: Float64Array } {
  const I = k.input, O = k.output, cip = I.cp, cop = O.cp;
  const { sw } = quantizeConvWeights(k);
  let a = 0;
  for (const v of x) a = Math.max(a, v);
  const sx = a / 127;
  const y = new Float64Array(O.w * O.h * cop), bound = new Float64Array(y.length);
  const p = k.pool ?? { k0: 1, k1: 1, s0: 1, s1: 1 };
  for (let oy = 0; oy < O.h; oy++) {
    for (let ox = 0; ox < O.w; ox++) {
      for (let co = 0; co < cop; co++) {
        let best = -Infinity, bnd = 0;
        for (let wy = 0; wy < p.k1; wy++) {
          for (let wx = 0; wx < p.k0; wx++) {
            const cx = ox * p.s0 + wx, cy = oy * p.s1 + wy;
            let s = k.bias.kind === "channel" ? k.bias.values[co]! : 0, e = 0;
            for (let ky = 0; ky < k.kh; ky++) {
              for (let kx = 0; kx < k.kw; kx++) {
                const ix = cx * k.s0 + kx - k.p0, iy = cy * k.s1 + ky - k.p1;
                for (let ci = 0; ci < cip; ci++) {
                  const w = k.weights[co + cop * (ci + cip * (kx + k.kw * ky))]!;
                  const v = ix < 0 || iy < 0 || ix >= I.w || iy >= I.h
                    ? 0
                    : x[ci + cip * (ix + I.w * iy)]!;
                  s += w * v;
                  e += Math.abs(w) * sx / 2 + Math.abs(v) * sw[co]! / 2 + sx * sw[co]! / 4;
                }
              }
            }
            if (k.relu) s = Math.max(s, 0);
            best = Math.max(best, s);
            bnd = Math.max(bnd, e);
          }
        }
        y[co + cop * (ox + O.w * oy)] = best;
        bound[co + cop * (ox + O.w * oy)] = bnd;
      }
    }
  }
  return { y, bound };
}

for (const { name, spec } of NETS) {
  Deno.test(`int8 conv kernels: bit-exact with the scalar model and within the quantisation bound of f32, ${name}`, async () => {
    const { plan } = planGraph(convNet(spec, 5));
    const convs = plan.kernels.flatMap((k, i) => k.kind === "conv2d" ? [i] : []);
    let checked = 0;
    for (const i of convs) {
      const k = plan.kernels[i] as ConvKernel;
      if (!int8Eligible(k, nonNegative(plan, k.src, i))) continue;
      checked++;
      for (let t = 0; t < 3; t++) {
        const image = randomImage(rng(40 + t), spec.w * spec.h);
        const relaxed = await runConv(plan, i, image, true);
        const plain = await runConv(plan, i, image, false);
        assert.deepEqual(plain.input, relaxed.input);
        const model = int8ConvReference(k, relaxed.input);
        assert.deepEqual(relaxed.output, model, `k${i} relaxed vs scalar model`);
        assert.deepEqual(plain.output, model, `k${i} simd128 vs scalar model`);
        const { y, bound } = exactWithBound(k, relaxed.input);
        for (let j = 0; j < y.length; j++) {
          const d = Math.abs(relaxed.output[j]! - y[j]!);
          assert.ok(
            d <= bound[j]! + 1e-5 * Math.max(1, Math.abs(y[j]!)),
            `k${i} output ${j}: int8 ${relaxed.output[j]}, exact ${y[j]}, bound ${bound[j]}`,
          );
        }
      }
    }
    assert.ok(checked >= 1, "the net has an int8 conv");
  });
}

Deno.test("int8 convs: which kernels qualify (input >= 0, max pool of <= 4 inside the grid)", () => {
  const kinds = NETS.map(({ spec }) => {
    const { plan } = planGraph(convNet(spec, 5));
    return plan.kernels.flatMap((k, i) =>
      k.kind === "conv2d" ? [int8Eligible(k, nonNegative(plan, k.src, i))] : []
    );
  });
  assert.deepEqual(kinds, [[true, true], [true, true], [true, true]]);
  // A conv after a conv without relu reads values of both signs: f32.
  const signed = planGraph(convNet({
    w: 12,
    h: 12,
    convs: [{ k: [3, 3], c: 4, relu: false }, { k: [3, 3], c: 4 }],
    classes: 3,
  })).plan;
  const second = signed.kernels[1] as ConvKernel;
  assert.equal(int8Eligible(second, nonNegative(signed, second.src, 1)), false);
  // Average pools and 3x3 max pools stay f32.
  for (
    const pool of [{ pool: "avg", k: [2, 2], s: [2, 2] }, {
      pool: "max",
      k: [3, 3],
      s: [3, 3],
    }] as const
  ) {
    const p =
      planGraph(convNet({ w: 12, h: 12, convs: [{ k: [3, 3], c: 4, pool }], classes: 3 })).plan;
    assert.equal(int8Eligible(p.kernels[0] as ConvKernel, true), false, pool.pool);
  }
});

for (const { name, spec } of NETS) {
  Deno.test(`--conv int8 modules stay within 0.05 of the interpreter's probabilities, ${name}`, async () => {
    const g = convNet(spec, 5);
    for (const relaxed of [true, false]) {
      const { source, report } = compileGraph(g, { conv: "int8", relaxed, poisonArena: true });
      assert.match(report.summary, /int8 direct convolution/);
      const m = await loadEmittedSource(source);
      for (let t = 0; t < 5; t++) {
        const x = randomImage(rng(60 + t), spec.w * spec.h);
        const got = m.predict(x).probabilities, want = reference(g, x);
        for (let j = 0; j < want.length; j++) {
          assert.ok(
            Math.abs(got[j]! - want[j]!) <= 0.05 * Math.max(1, Math.abs(want[j]!)),
            `relaxed=${relaxed} image ${t} output ${j}: ${got[j]} vs ${want[j]}`,
          );
        }
      }
    }
  });
}

Deno.test("--conv: auto (the default) uses int8 in the relaxed variant only; f32 none; f16 weights keep convs f32", () => {
  const g = convNet(NETS[0]!.spec, 5);
  const notes = (o: Parameters<typeof compileGraph>[1]) =>
    compileGraph(g, o).report.summary.split("\n").find((l) => l.startsWith("wasm kernels"))!;
  assert.match(notes({}), /int8 direct convolution.*\(relaxed variant\)/);
  assert.match(notes({ conv: "auto" }), /\(plain\)/);
  assert.doesNotMatch(notes({ conv: "f32" }), /int8/);
  assert.doesNotMatch(notes({ conv: "int8", weights: "f16" }), /int8/);
  assert.doesNotMatch(notes({ conv: "int8" }), /Winograd|direct convolution,/);
  assert.doesNotMatch(notes({ conv: "auto", relaxed: false }), /int8/);
});

Deno.test("in Node 20 (no relaxed SIMD) int8 and auto modules run the plain variant and match it in Deno bit for bit", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "conv_int8_" });
  try {
    const spec = NETS[0]!.spec;
    const g = convNet(spec, 5);
    const images = new Float32Array(4 * 784);
    for (let t = 0; t < 4; t++) images.set(randomImage(rng(80 + t), 784), t * 784);
    const runner = `${dir}/run.mjs`;
    const script = `import { readFileSync } from "node:fs";
const m = await import(new URL(process.argv[2], "file:///").href);
await m.load();
const x = new Float32Array(new Uint8Array(readFileSync(process.argv[3])).buffer);
const r = m.predictBatch(x, x.length / 784);
console.log(JSON.stringify({ backend: m.backend(), p: Array.from(r.probabilities) }));
`;
    Deno.writeFileSync(`${dir}/x.bin`, new Uint8Array(images.buffer));
    for (const conv of ["int8", "auto"] as const) {
      const js = `${dir}/${conv}.mjs`;
      Deno.writeTextFileSync(js, await bundleJs(compileGraph(g, { conv }).source));
      const got = await runNodeScript(runner, script, [js, `${dir}/x.bin`]) as {
        backend: string;
        p: number[];
      };
      assert.equal(got.backend, "wasm-simd128");
      // The same module without its relaxed variant, in Deno: the plain kernels.
      const plain = await loadEmittedSource(compileGraph(g, { conv, relaxed: false }).source);
      const want = Array.from(plain.predictBatch(images, 4).probabilities);
      assert.deepEqual(got.p, want, conv);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the shipped MNIST models compiled by default (--conv auto) keep the accuracy rules against --conv f32", async () => {
  // Rules: argmax equal to the f32 module's on >= 99.9 % of the 10,000 test images, accuracy
  // within 0.1 percentage point. Measured: mnist-cnn 99.98 % / +0.02 pp, mnist-cnn-small 99.95 %
  // / +0.03 pp, mnist-fc (no conv) identical.
  const { images, labels } = loadMnist("test");
  for (const file of ["mnist-cnn.gguf", "mnist-cnn-small.gguf", "mnist-fc.gguf"]) {
    const bytes = Deno.readFileSync(new URL(`../models/${file}`, import.meta.url));
    const run = async (conv: "auto" | "f32") => {
      const m = await loadEmittedSource(compileFile(bytes, file, { conv }).source);
      assert.equal(m.backend(), "wasm-relaxed-simd");
      return m.predictBatch(images.pixels, images.count).digits.slice();
    };
    const f32 = await run("f32"), int8 = await run("auto");
    let same = 0, okF32 = 0, okInt8 = 0;
    for (let i = 0; i < images.count; i++) {
      if (f32[i] === int8[i]) same++;
      if (f32[i] === labels[i]) okF32++;
      if (int8[i] === labels[i]) okInt8++;
    }
    assert.ok(same >= 0.999 * images.count, `${file}: argmax agreement ${same} / 10000`);
    assert.ok(Math.abs(okInt8 - okF32) <= 10, `${file}: accuracy ${okInt8} vs f32 ${okF32}`);
  }
});
