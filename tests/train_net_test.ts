/**
 * Tests of the training stack above the single ops: the WASM GEMM against the plain loop, the
 * wiring of each architecture (whole-net gradients against finite differences, in f64), a short
 * training run, the file layouts, and bit-identical output for the same seed.
 */
import assert from "node:assert/strict";
import { jsGemm, sparseScratchSize, WasmKernels } from "../models/train/gemm.ts";
import { Adam } from "../models/train/adam.ts";
import { ARCHS, buildNet, type RunContext } from "../models/train/layers.ts";
import { reluBackward, reluForward, softmaxCrossEntropy } from "../models/train/ops.ts";
import { Rng } from "../models/train/prng.ts";
import { type Digits, loadDigits } from "../models/train/data.ts";
import { train } from "../models/train/trainer.ts";
import { trainModelFile } from "../models/train/model_file.ts";
import { LAYOUTS, paramsFromTensors } from "../models/train/export.ts";
import { metaNumber, metaString, readGguf, tensorToF32 } from "../ggml/gguf_reader.ts";
import { readLegacyGgml } from "../ggml/legacy.ts";
import { GgmlType } from "../ggml/ggml_types.ts";

function subset(d: Digits, from: number, n: number): Digits {
  return {
    count: n,
    pixels: d.pixels.subarray(from * 784, (from + n) * 784),
    labels: d.labels.subarray(from, from + n),
  };
}

Deno.test("the WASM SIMD GEMM equals the plain loop bit for bit (A·B, Aᵀ·B, ragged edges)", () => {
  const w = new WasmKernels(1 << 20);
  const rng = new Rng(11);
  for (const [m, n, k, trans] of [[4, 8, 3, 0], [8, 12, 300, 1], [12, 20, 5, 0], [9, 13, 7, 1]]) {
    const a = w.alloc(m! * k!), b = w.alloc(k! * n!), c = w.alloc(m! * n!);
    for (const v of [a, b, c]) for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    const expect = new Float32Array(c);
    const [sai, sak] = trans ? [1, m!] : [k!, 1];
    w.gemm(c, a, b, m!, n!, k!, sai, sak, n!, n!);
    jsGemm.gemm(expect, new Float32Array(a), new Float32Array(b), m!, n!, k!, sai, sak, n!, n!);
    assert.deepEqual(c, expect, `m=${m} n=${n} k=${k} trans=${trans}`);
  }
});

Deno.test("the WASM ReLU select equals reluForward and reluBackward bit for bit (-0, NaN, odd length)", () => {
  const w = new WasmKernels(1 << 20);
  const n = 1003, rng = new Rng(7);
  const x = w.alloc(n), y = w.alloc(n), g = w.alloc(n), dx = w.alloc(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal(), g[i] = rng.normal();
  x[0] = -0, x[1] = NaN, x[2] = 0, x[n - 1] = 5;
  const wantY = new Float32Array(x), wantDx = new Float32Array(g);
  reluForward(wantY, n);
  reluBackward(wantY, wantDx, n);
  w.reluMask(y, x, x, n);
  w.reluMask(dx, g, y, n);
  assert.deepEqual(y, wantY);
  assert.deepEqual(dx, wantDx);
  assert(Object.is(y[0], 0) && Object.is(y[1], 0) && y[n - 1] === 5);
});

for (const threads of [1, 2]) {
  Deno.test(`the sparse-A GEMM equals the plain loop bit for bit (${threads} thread${threads > 1 ? "s" : ""}; A·B, Aᵀ·B, any width)`, async () => {
    const w = await WasmKernels.create(16 << 20, threads);
    const rng = new Rng(5);
    try {
      for (
        const [m, n, k, trans] of [
          [4, 8, 3, 0],
          [9, 13, 7, 1],
          [3, 1, 2, 0],
          [70, 37, 33, 1],
          [64, 500, 784, 0], // fc1 forward and weight gradient: split over threads
          [784, 500, 64, 1],
          [64, 10, 500, 0],
        ]
      ) {
        const a = w.alloc(m! * k!), b = w.alloc(k! * n!), c = w.alloc(m! * n!);
        const scratch = w.alloc(sparseScratchSize(m!, k!));
        // 70 % zeros in A, some in B and C; negative values too (signed zero products)
        for (let i = 0; i < a.length; i++) a[i] = rng.uniform() < 0.7 ? 0 : rng.normal();
        for (let i = 0; i < b.length; i++) b[i] = rng.uniform() < 0.3 ? 0 : rng.normal();
        for (let i = 0; i < c.length; i++) c[i] = rng.uniform() < 0.2 ? 0 : rng.normal();
        const want = new Float32Array(c);
        const [sai, sak] = trans ? [1, m!] : [k!, 1];
        w.gemmSparseA(c, a, b, m!, n!, k!, sai, sak, n!, n!, scratch);
        jsGemm.gemm(want, new Float32Array(a), new Float32Array(b), m!, n!, k!, sai, sak, n!, n!);
        assert.deepEqual(c, want, `m=${m} n=${n} k=${k} trans=${trans}`);
      }
    } finally {
      w.close();
    }
  });

  Deno.test(`the WASM Adam step equals the plain loop bit for bit (${threads} thread${threads > 1 ? "s" : ""}, odd length)`, async () => {
    const n = 40_001;
    const w = await WasmKernels.create(4 << 20, threads);
    try {
      const value = w.alloc(n), grad = w.alloc(n);
      const rng = new Rng(6);
      for (let i = 0; i < n; i++) value[i] = rng.normal() * 0.1;
      const p = { name: "p", value, grad };
      const q = { name: "q", value: new Float32Array(value), grad: new Float32Array(n) };
      const inKernels = new Adam([p], w), plain = new Adam([q]);
      for (let step = 0; step < 3; step++) {
        for (let i = 0; i < n; i++) grad[i] = q.grad[i] = rng.normal() * 1e-3;
        inKernels.step([p], 1e-3);
        plain.step([q], 1e-3);
        assert.deepEqual(p.value, q.value, `step ${step}`);
      }
    } finally {
      w.close();
    }
  });
}

for (const arch of ARCHS) {
  Deno.test(`the ${arch} net's parameter gradients match finite differences (f64, sampled)`, () => {
    // f64 buffers and the plain-loop GEMM: the check measures the wiring, not f32 rounding.
    const alloc = (n: number) => new Float64Array(n) as unknown as Float32Array;
    const batch = 4;
    const net = buildNet(arch, alloc, batch);
    const rng = new Rng(21);
    net.init(rng);
    for (const p of net.params) {
      if (p.name.endsWith("bias")) {
        for (let i = 0; i < p.value.length; i++) p.value[i] = rng.normal() * 0.1;
      }
    }
    for (let i = 0; i < net.x.length; i++) net.x[i] = rng.uniform();
    const labels = [1, 7, 3, 0];
    const ctx: RunContext = { gemm: jsGemm, train: false, uniform: () => 0 };
    const scratch = new Float64Array(batch * 10);
    const loss = () => {
      net.forward(ctx);
      return softmaxCrossEntropy(net.logits, labels, scratch, batch, batch, 10, batch).loss / batch;
    };
    for (const p of net.params) p.grad.fill(0);
    net.trainStep(ctx, labels, batch, batch);
    const h = 1e-6;
    for (const p of net.params) {
      // 4 entries per tensor, spread over it (a conv weight's zero padding rows check as 0 = 0)
      for (let s = 0; s < 4; s++) {
        const i = Math.floor(((s + 0.5) / 4) * p.value.length);
        const keep = p.value[i]!;
        p.value[i] = keep + h;
        const lp = loss();
        p.value[i] = keep - h;
        const lm = loss();
        p.value[i] = keep;
        const fd = (lp - lm) / (2 * h);
        // 1e-5: the ReLU/max-pool kinks are almost surely not within h of any activation
        assert(
          Math.abs(fd - p.grad[i]!) < 1e-5 * Math.max(1, Math.abs(fd)),
          `${arch} ${p.name}[${i}]: analytic ${p.grad[i]}, finite difference ${fd}`,
        );
      }
    }
  });
}

Deno.test("a short fc run (about 190 steps on 2,000 images) brings the training loss below 0.35", async () => {
  const data = subset(loadDigits("train"), 0, 2000);
  const r = await train({ arch: "fc", epochs: 3, batch: 32, lr: 1e-3, lrDecay: 1, seed: 5 }, data);
  // Chance level is ln 10 = 2.30; this run measures about 0.1 in its third epoch.
  assert(r.history[2]!.trainLoss < 0.35, `loss ${r.history[2]!.trainLoss}`);
  assert(r.history[2]!.trainLoss < r.history[0]!.trainLoss);
  assert(r.history[2]!.valAccuracy > 0.8, `val accuracy ${r.history[2]!.valAccuracy}`);
});

for (const arch of ARCHS) {
  for (const layout of LAYOUTS) {
    Deno.test(`train -> write -> readGguf keeps the ${arch} weights (${layout} layout)`, async () => {
      const train0 = loadDigits("train"), test0 = loadDigits("test");
      const cfg = { arch, layout, epochs: 1, batch: 16, lr: 1e-3, lrDecay: 1, seed: 3 };
      const m = await trainModelFile(cfg, subset(train0, 0, 64), subset(test0, 0, 100));
      const f = readGguf(m.gguf, "trained.gguf");
      assert.equal(metaString(f, "general.architecture"), arch === "fc" ? "mnist-fc" : "mnist-cnn");
      assert.equal(metaString(f, "ggufc.train.layout"), layout);
      assert.equal(metaNumber(f, "ggufc.train.seed"), 3);
      assert.equal(Math.fround(m.test!.accuracy), metaNumber(f, "ggufc.train.test_accuracy"));
      assert.deepEqual(f.tensors.map((t) => t.name), m.tensors.map((t) => t.name));
      const decoded = new Map<string, Float32Array>();
      for (const [i, t] of f.tensors.entries()) {
        const want = m.tensors[i]!;
        assert.deepEqual(t.ne.slice(0, want.ne.length), want.ne, t.name);
        assert.equal(t.type, want.type, t.name);
        decoded.set(t.name, tensorToF32(t));
        assert.deepEqual(decoded.get(t.name), want.values, t.name);
      }
      if (layout === "seed" && arch !== "fc") {
        assert.equal(f.tensors[0]!.type, GgmlType.F16);
        assert.deepEqual(f.tensors[1]!.ne, arch === "cnn" ? [26, 26, 32, 1] : [28, 28, 8, 1]);
      }
      // Back to trainer parameters: equal to the trained ones (F16 kernels within f16 rounding).
      const back = paramsFromTensors(arch, layout, decoded);
      for (const [name, v] of m.result.params) {
        const got = back.get(name)!;
        const f16 = layout === "seed" && arch !== "fc" && name.endsWith("weight") &&
          name.startsWith("conv");
        for (let i = 0; i < v.length; i++) {
          // f16 has 11 significant bits: relative error <= 2^-11, plus subnormal steps of 2^-24
          const tol = f16 ? Math.abs(v[i]!) * 2 ** -11 + 2 ** -24 : 0;
          assert(Math.abs(got[i]! - v[i]!) <= tol, `${name}[${i}] ${got[i]} vs ${v[i]}`);
        }
      }
    });
  }
}

Deno.test("the legacy fc file holds fc1.weight / 255 (for raw pixels) and the other tensors as is", async () => {
  const cfg = {
    arch: "fc" as const,
    layout: "ggml" as const,
    epochs: 1,
    batch: 16,
    lr: 1e-3,
    lrDecay: 1,
    seed: 3,
  };
  const m = await trainModelFile(cfg, subset(loadDigits("train"), 0, 64), undefined);
  const legacy = readLegacyGgml(m.legacy!, "legacy.bin");
  assert.deepEqual(legacy.map((t) => t.ne), [[784, 500], [500], [500, 10], [10]]);
  const fc1 = m.tensors[0]!.values;
  for (let i = 0; i < fc1.length; i += 997) {
    assert.equal(legacy[0]!.data[i], Math.fround(fc1[i]! / 255));
  }
  assert.deepEqual(legacy[3]!.data, m.tensors[3]!.values);
});

Deno.test("the same seed and flags give a bit-identical GGUF, with 1 or 2 threads; another seed does not", async () => {
  const data = subset(loadDigits("train"), 0, 64), test = subset(loadDigits("test"), 0, 40);
  const cfg = {
    shift: 1,
    arch: "cnn" as const,
    layout: "seed" as const,
    epochs: 2,
    batch: 12,
    lr: 1e-3,
    lrDecay: 0.5,
    seed: 9,
  };
  const a = (await trainModelFile(cfg, data, test)).gguf;
  const b = (await trainModelFile({ ...cfg, threads: 2 }, data, test)).gguf;
  const c = (await trainModelFile({ ...cfg, seed: 10 }, data, test)).gguf;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});
