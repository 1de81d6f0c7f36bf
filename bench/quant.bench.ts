/**
 * Per-digit latency of compiled modules by weight format (`compile --weights`): one group per
 * model with the f32 module as baseline, then f16, q8_0 (ggml's q8_0 x q8_0 int8 kernel, and
 * the dequantise-in-register kernel), q4_0. WASM target, relaxed-SIMD variant where the engine
 * validates it; batch 1; rotating through 1,000 real MNIST test images (the kernels skip zero
 * inputs, so real images matter).
 *
 * Run: `deno bench -A bench/quant.bench.ts`
 *
 * @module
 */
import { compileFile, type CompileOptions } from "../compiler/mod.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import { loadMnist } from "../data/mnist_data.ts";

const ROOT = new URL("../", import.meta.url);
const MODELS = [
  "models/mnist-fc.gguf",
  "../shared/fixtures/ggml-model-f32.bin",
  "models/mnist-cnn.gguf",
  "models/mnist-cnn-small.gguf",
];
const VARIANTS: [string, CompileOptions][] = [
  ["f32", {}],
  ["f16", { weights: "f16" }],
  ["q8_0 (int8 vec_dot)", { weights: "q8_0" }],
  ["q8_0 (dequant in register)", { weights: "q8_0", quantCompute: "dequant" }],
  ["q4_0 (int8 vec_dot)", { weights: "q4_0" }],
];

const { images } = loadMnist("test");
const image = (i: number) => images.pixels.subarray((i % 1000) * 784, (i % 1000 + 1) * 784);

for (const path of MODELS) {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(new URL(path, ROOT));
  } catch {
    console.log(`note: ${path} is absent; skipped`);
    continue;
  }
  const name = path.split("/").pop()!;
  for (const [label, options] of VARIANTS) {
    const source = compileFile(bytes, name, options).source;
    const m = await loadEmittedSource(source);
    let i = 0;
    Deno.bench({
      name: `${name} ${label} (module ${(source.length / 1024).toFixed(0)} KiB)`,
      group: name,
      baseline: label === "f32",
      fn() {
        m.predict(image(i++));
      },
    });
  }
}
