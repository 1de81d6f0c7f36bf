/**
 * The batch path (`runBatch`: compiler/plan/batch.ts, compiler/codegen/batch_wasm.ts): a module's
 * `predictBatch` runs whole chunks through the batch kernels and the rest image by image.
 *
 * - Against the batch-1 module (the same model compiled with `batch: false`): argmax identical on
 *   all 10,000 MNIST test images and probabilities within {@link TOL} (the batch kernels sum each
 *   output in the batch-1 order, so they are in fact bit-identical today), for the three shipped
 *   models, with --weights f32, f16 and q8_0, relaxed and plain SIMD.
 * - Against the reference interpreter, on real and on random inputs, byte and float inputs, with
 *   counts that leave a remainder, in a module that poisons both arenas with NaN before each run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { compileFile, type CompileOptions } from "../compiler/mod.ts";
import { type EmittedModule, loadEmittedSource } from "../compiler/emit/load.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import { runGraph } from "../reference/interpreter.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { randomImage, rng } from "../testkit/random_graphs.ts";

/** Probabilities, batch path vs the batch-1 module (same kernels, same summation order). */
const TOL = 1e-6;
/** Probabilities vs the interpreter (f32 summation order and FMA differ): as the other tests. */
const REF_TOL = 1e-5;

const MODELS = ["mnist-fc", "mnist-cnn", "mnist-cnn-small"] as const;
const test = loadMnist("test");
const pixels = test.images.pixels;
const N = test.images.count;

async function compiled(model: string, o: CompileOptions): Promise<EmittedModule> {
  const bytes = Deno.readFileSync(new URL(`../models/${model}.gguf`, import.meta.url));
  return await loadEmittedSource(compileFile(bytes, `${model}.gguf`, o).source);
}

function compare(a: { digits: Uint8Array; probabilities: Float32Array }, b: typeof a) {
  let digits = 0, dp = 0;
  for (let i = 0; i < a.digits.length; i++) if (a.digits[i] !== b.digits[i]) digits++;
  for (let i = 0; i < a.probabilities.length; i++) {
    dp = Math.max(dp, Math.abs(a.probabilities[i]! - b.probabilities[i]!));
  }
  return { digits, dp };
}

for (const model of MODELS) {
  for (const weights of ["f32", "f16", "q8_0"] as const) {
    Deno.test(`${model} --weights ${weights}: batch path = batch-1 module on the 10,000 test images`, async () => {
      for (const relaxed of [true, false]) {
        const one = await compiled(model, { weights, relaxed, batch: false });
        const batch = await compiled(model, { weights, relaxed });
        assert.ok((one.info.options as { batch?: unknown }).batch === false);
        const want = one.predictBatch(pixels, N);
        const a = { digits: want.digits.slice(), probabilities: want.probabilities.slice() };
        const { digits, dp } = compare(batch.predictBatch(pixels, N), a);
        assert.equal(digits, 0, `relaxed=${relaxed}: ${digits} digits differ`);
        assert.ok(dp <= TOL, `relaxed=${relaxed}: |dp| ${dp}`);
      }
    });
  }

  Deno.test(`${model}: batch path matches the interpreter (real and random, bytes and floats)`, async () => {
    const bytes = Deno.readFileSync(new URL(`../models/${model}.gguf`, import.meta.url));
    const { graph } = loadModel(bytes, `${model}.gguf`, { batch: 1 });
    // Small chunks keep the interpreter's share short; a count that is not a multiple of them
    // leaves a remainder for the batch-1 path. f32 convolutions: the int8 ones (--conv auto) are
    // checked against the f32 reference by their own accuracy rule (conv_int8_test.ts).
    const m = await loadEmittedSource(
      compileFile(bytes, `${model}.gguf`, { batch: 8, poisonArena: true, conv: "f32" }).source,
    );
    const count = 21;
    const r = rng(5);
    const random = new Float32Array(count * 784);
    for (let i = 0; i < count; i++) random.set(randomImage(r), i * 784);
    const real = pixels.slice(300 * 784, (300 + count) * 784);
    const realFloats = Float32Array.from(real);
    for (const [name, input] of [["real bytes", real], ["real floats", realFloats]] as const) {
      const got = m.predictBatch(input, count);
      for (let i = 0; i < count; i++) {
        const want = runGraph(graph, realFloats.subarray(i * 784, (i + 1) * 784));
        for (let c = 0; c < 10; c++) {
          const d = Math.abs(got.probabilities[i * 10 + c]! - want[c]!);
          assert.ok(d <= REF_TOL, `${name} image ${i} class ${c}: |dp| ${d}`);
        }
      }
    }
    const got = m.predictBatch(random, count);
    for (let i = 0; i < count; i++) {
      const want = runGraph(graph, random.subarray(i * 784, (i + 1) * 784));
      for (let c = 0; c < 10; c++) {
        const d = Math.abs(got.probabilities[i * 10 + c]! - want[c]!);
        assert.ok(d <= REF_TOL, `random image ${i} class ${c}: |dp| ${d}`);
      }
    }
  });
}

Deno.test("the batch path keeps the API: views, results of predict, a pool's results", async () => {
  // A file, so the pool's workers can load the module by its URL.
  const path = await Deno.makeTempFile({ suffix: ".ts" });
  const bytes = Deno.readFileSync(new URL("../models/mnist-cnn-small.gguf", import.meta.url));
  await Deno.writeTextFile(path, compileFile(bytes, "mnist-cnn-small.gguf").source);
  const m = await import(toFileUrl(path).href) as EmittedModule;
  await m.load();
  const count = 40; // two chunks of 16 and 8 one by one
  const batch = m.predictBatch(pixels.subarray(0, count * 784), count);
  const digits = batch.digits.slice(), probabilities = batch.probabilities.slice();
  assert.equal(digits.length, count);
  for (let i = 0; i < count; i++) {
    const p = m.predict(pixels.subarray(i * 784, (i + 1) * 784));
    assert.equal(p.digit, digits[i]);
    assert.deepEqual(p.probabilities, probabilities.subarray(i * 10, (i + 1) * 10));
  }
  const pool = await m.createPool!(2);
  try {
    for (const n of [count, 5, 100]) {
      const want = m.predictBatch(pixels.subarray(0, n * 784), n);
      const w = { digits: want.digits.slice(), probabilities: want.probabilities.slice() };
      const got = await pool.predictBatch(pixels.subarray(0, n * 784), n);
      assert.deepEqual(got.digits, w.digits);
      assert.deepEqual(got.probabilities, w.probabilities);
    }
  } finally {
    await pool.close();
    await Deno.remove(path);
  }
});

Deno.test("the TS target has no batch path: predictBatch runs image by image", async () => {
  const m = await compiled("mnist-fc", { target: "ts" });
  const r = m.predictBatch(pixels.subarray(0, 20 * 784), 20);
  assert.equal(r.digits.length, 20);
});
