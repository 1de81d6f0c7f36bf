/**
 * The compiled modules of the four model layouts against the reference interpreter, for both
 * targets (and both WASM variants): random weights with random inputs, the 10,000 MNIST test
 * images, and the real model files made by other tools.
 *
 * Tolerance on probabilities: |dp| <= 1e-5. The modules sum the same products as the
 * interpreter in another order (channel-blocked, non-zero inputs only, FMA in the relaxed
 * variant), which moves logits by a few f32 ulps (~1e-6 at most for these sizes); softmax
 * probabilities are in [0, 1], so 1e-5 leaves ~10x margin while any indexing or fusion bug
 * moves them by far more. Predicted digits must be equal.
 *
 * The interpreter needs ~100 ms per image for the seed CNN (~3 ms for the FC nets), so on the
 * 10,000 test images it checks an evenly spaced sample; all 10,000 are checked between the two
 * WASM variants (different arithmetic: FMA vs mul+add) and against ggml's reported accuracy for
 * the fixtures.
 */
import assert from "node:assert/strict";
import { compileFile, compileGraph, type CompileOptions } from "../compiler/mod.ts";
import { type EmittedModule, loadEmittedSource } from "../compiler/emit/load.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { argmax, runGraph } from "../reference/interpreter.ts";
import { LAYOUTS, maxAbsDiff, randomImage, randomModel, rng } from "../testkit/random_graphs.ts";

const TOL = 1e-5;
const TARGETS: { label: string; options: CompileOptions }[] = [
  // f32 convs (`--conv f32`): int8 ones are checked in tests/conv_int8_test.ts.
  { label: "wasm relaxed", options: { target: "wasm", relaxed: true, conv: "f32" } },
  { label: "wasm simd128", options: { target: "wasm", relaxed: false, conv: "f32" } },
  { label: "ts", options: { target: "ts" } },
];
/** Interpreter sample stride on the test set, by layout (keeps each test to a few seconds). */
const STRIDE: Record<string, number> = {
  "seed-cnn": 500,
  "ggml-cnn": 100,
  "seed-fc": 50,
  "ggml-fc": 50,
};

let test: ReturnType<typeof loadMnist> | undefined;
const testSet = () => (test ??= loadMnist("test"));

/** Checks `m` against the interpreter on images `index` of `pixels`. */
function checkAgainstInterpreter(
  m: EmittedModule,
  g: Graph,
  pixels: Uint8Array,
  indices: number[],
  what: string,
): void {
  for (const i of indices) {
    const img = pixels.subarray(i * 784, (i + 1) * 784);
    const want = runGraph(g, Float32Array.from(img));
    const got = m.predict(img);
    const d = maxAbsDiff(got.probabilities, want);
    assert.ok(d <= TOL, `${what}: image ${i}: probabilities differ by ${d}`);
    assert.equal(got.digit, argmax(want), `${what}: image ${i}: digit`);
  }
}

/** Runs all test images through `m` (predictBatch, chunks of 1000). */
function predictAll(
  m: EmittedModule,
  pixels: Uint8Array,
  n: number,
): { digits: Uint8Array; probs: Float32Array } {
  const digits = new Uint8Array(n), probs = new Float32Array(n * 10);
  for (let s = 0; s < n; s += 1000) {
    const c = Math.min(1000, n - s);
    const r = m.predictBatch(pixels.subarray(s * 784, (s + c) * 784), c);
    digits.set(r.digits, s);
    probs.set(r.probabilities, s * 10);
  }
  return { digits, probs };
}

for (const layout of LAYOUTS) {
  Deno.test(`a ${layout} model compiles for every target and matches the interpreter on random inputs`, async () => {
    const g = randomModel(layout, 21);
    for (const t of TARGETS) {
      const m = await loadEmittedSource(
        compileGraph(g, { ...t.options, poisonArena: true }).source,
      );
      assert.equal(m.info.layout, layout);
      assert.equal(
        m.backend(),
        t.label === "ts" ? "ts" : t.label === "wasm relaxed" ? "wasm-relaxed-simd" : "wasm-simd128",
      );
      for (let i = 0; i < 4; i++) {
        const x = randomImage(rng(300 + i));
        const want = runGraph(g, x);
        const got = m.predict(x);
        const d = maxAbsDiff(got.probabilities, want);
        assert.ok(d <= TOL, `${t.label}: random image ${i}: probabilities differ by ${d}`);
        assert.equal(got.digit, argmax(want), `${t.label}: random image ${i}`);
      }
    }
  });

  Deno.test(`a ${layout} module agrees with the interpreter on the 10,000 test images`, async () => {
    const { images } = testSet();
    const g = randomModel(layout, 22);
    const relaxed = await loadEmittedSource(
      compileGraph(g, { target: "wasm", relaxed: true, conv: "f32" }).source,
    );
    const plain = await loadEmittedSource(
      compileGraph(g, { target: "wasm", relaxed: false, conv: "f32" }).source,
    );
    const ts = await loadEmittedSource(compileGraph(g, { target: "ts" }).source);
    const a = predictAll(relaxed, images.pixels, images.count);
    const b = predictAll(plain, images.pixels, images.count);
    assert.deepEqual(a.digits, b.digits, "relaxed and plain SIMD digits");
    assert.ok(maxAbsDiff(a.probs, b.probs) <= TOL, "relaxed and plain SIMD probabilities");
    const sample = Array.from(
      { length: Math.ceil(images.count / STRIDE[layout]!) },
      (_, i) => i * STRIDE[layout]!,
    );
    checkAgainstInterpreter(relaxed, g, images.pixels, sample, "wasm relaxed");
    checkAgainstInterpreter(ts, g, images.pixels, sample.slice(0, 10), "ts");
  });
}

const FIXTURES = [
  { file: "ggml-model-f32.bin", layout: "seed-fc", accuracy: 0.9831 },
  { file: "ggml-mnist-fc-f32.gguf", layout: "ggml-fc", accuracy: 0.9798 },
] as const;

for (const f of FIXTURES) {
  const url = new URL(`../../shared/fixtures/${f.file}`, import.meta.url);
  let exists = true;
  try {
    Deno.statSync(url);
  } catch {
    exists = false;
    console.log(
      `note: ${f.file} not found beside the project (../shared/fixtures); its test is skipped`,
    );
  }
  Deno.test({
    name:
      `the compiled ${f.file} (${f.layout}) reaches ggml's accuracy and matches the interpreter`,
    ignore: !exists,
    async fn() {
      const bytes = Deno.readFileSync(url);
      const { graph } = loadModel(bytes, f.file);
      const { images, labels } = testSet();
      for (const target of ["wasm", "ts"] as const) {
        const { source, report } = compileFile(bytes, f.file, { target });
        const m = await loadEmittedSource(source);
        assert.equal(m.info.layout, f.layout);
        assert.ok(report.summary.includes("arena"));
        const n = target === "wasm" ? images.count : 1000;
        const { digits } = predictAll(m, images.pixels, n);
        if (target === "wasm") {
          let correct = 0;
          for (let i = 0; i < n; i++) if (digits[i] === labels[i]) correct++;
          assert.equal(correct / n, f.accuracy, `${target}: accuracy on the 10,000 test images`);
        }
        const sample = Array.from(
          { length: n / STRIDE[f.layout]! },
          (_, i) => i * STRIDE[f.layout]!,
        );
        checkAgainstInterpreter(m, graph, images.pixels, sample, target);
      }
    },
  });
}

const TRAINED = ["mnist-fc.gguf", "mnist-cnn.gguf", "mnist-cnn-small.gguf"];
for (const file of TRAINED) {
  const url = new URL(`../models/${file}`, import.meta.url);
  let exists = true;
  try {
    Deno.statSync(url);
  } catch {
    exists = false;
  }
  Deno.test({
    name: `the trained models/${file} compiles for both targets and matches the interpreter`,
    ignore: !exists,
    async fn() {
      const bytes = Deno.readFileSync(url);
      const { graph, layout } = loadModel(bytes, file);
      const { images } = testSet();
      const stride = STRIDE[layout]! * 2;
      for (const target of ["wasm", "ts"] as const) {
        const m = await loadEmittedSource(
          compileFile(bytes, file, { target, poisonArena: true, conv: "f32" }).source,
        );
        const sample = Array.from({
          length: Math.ceil(images.count / stride / (target === "ts" ? 10 : 1)),
        }, (_, i) => i * stride);
        checkAgainstInterpreter(m, graph, images.pixels, sample, `${file} ${target}`);
      }
    },
  });
}
