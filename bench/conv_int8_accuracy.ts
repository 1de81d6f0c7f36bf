/**
 * Accuracy of `--conv int8` against the f32 module on the 10,000 MNIST test images, for every
 * model in models/ (mnist-fc has no conv: its rows show the modules are the same): test
 * accuracy of each, and the share of images whose argmax equals the f32 module's. Both WASM
 * variants of the int8 module are run (relaxed SIMD and plain SIMD128).
 *
 * Run: `deno run -A bench/conv_int8_accuracy.ts [--json]`
 *
 * @module
 */
import { compileFile, type CompileOptions } from "../compiler/mod.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import { loadMnist } from "../data/mnist_data.ts";

const MODELS = ["models/mnist-cnn.gguf", "models/mnist-cnn-small.gguf", "models/mnist-fc.gguf"];
const { images, labels } = loadMnist("test");
const N = labels.length;

async function digits(path: string, o: CompileOptions): Promise<Uint8Array> {
  const bytes = Deno.readFileSync(new URL(`../${path}`, import.meta.url));
  const m = await loadEmittedSource(compileFile(bytes, path, o).source);
  return m.predictBatch(images.pixels.subarray(0, N * 784), N).digits.slice();
}

const rows = [];
for (const path of MODELS) {
  const ref = await digits(path, { conv: "f32" });
  const acc = (d: Uint8Array) => d.reduce((s, v, i) => s + (v === labels[i] ? 1 : 0), 0) / N;
  const same = (d: Uint8Array) => d.reduce((s, v, i) => s + (v === ref[i] ? 1 : 0), 0) / N;
  for (const relaxed of [true, false]) {
    const d = await digits(path, { conv: "int8", relaxed });
    rows.push({
      model: path,
      variant: relaxed ? "relaxed" : "simd128",
      f32Accuracy: acc(ref),
      int8Accuracy: acc(d),
      argmaxAgreement: same(d),
    });
  }
}
if (Deno.args.includes("--json")) console.log(JSON.stringify(rows, null, 2));
else {
  console.log("| model | variant | f32 accuracy % | int8 accuracy % | argmax = f32 % |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.variant} | ${(100 * r.f32Accuracy).toFixed(2)} | ${
        (100 * r.int8Accuracy).toFixed(2)
      } | ${(100 * r.argmaxAgreement).toFixed(2)} |`,
    );
  }
}
