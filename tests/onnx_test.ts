/**
 * The protobuf encoder against hand-computed bytes, and the ONNX exporter against the reference
 * interpreter: every exported model runs in onnxruntime-web (wasm) and gives the interpreter's
 * probabilities on MNIST test images.
 */
import * as ort from "onnxruntime-web";
import { pathToFileURL } from "node:url";
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { ProtoWriter } from "../export/protobuf.ts";
import { exportOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from "../export/onnx.ts";
import { type Graph, GraphBuilder, GraphError, type Pool2dParams } from "../compiler/ir/graph.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { argmax, runGraph } from "../reference/interpreter.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { packageMainDir } from "../peers/peer.ts";
import { exportCommand } from "../cli/export.ts";
import { UsageError } from "../ggml/errors.ts";
import { fcWeights, ggmlCnnWeights, ggufOf, legacyOf, seedCnnWeights } from "../testkit/models.ts";
import { randomArray, randomPixels, rng } from "../testkit/random.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test("ProtoWriter.varint() writes base-128 varints, low group first", () => {
  const cases: [number | bigint, string][] = [
    [0, "00"],
    [1, "01"],
    [127, "7f"],
    [128, "80 01"],
    [300, "ac 02"],
    [2 ** 32, "80 80 80 80 10"],
    [2n ** 63n, "80 80 80 80 80 80 80 80 80 01"],
    // Negative int64: two's complement over 64 bits, always ten bytes.
    [-1, "ff ff ff ff ff ff ff ff ff 01"],
  ];
  for (const [value, bytes] of cases) {
    assertEquals(hex(new ProtoWriter().varint(value).finish()), bytes, `varint ${value}`);
  }
});

Deno.test("ProtoWriter writes keys, strings, floats and a nested message as protobuf does", () => {
  // message Inner { int32 a = 1; }  message Outer { string s = 1; float f = 2; Inner m = 3; }
  // Outer { s: "hi", f: 1.5, m: { a: 150 } }:
  //   0a 02 68 69        field 1, wire type 2, length 2, "hi"
  //   15 00 00 c0 3f     field 2, wire type 5, 1.5f little-endian
  //   1a 03 08 96 01     field 3, wire type 2, length 3: field 1 varint 150
  const inner = new ProtoWriter().int(1, 150);
  const outer = new ProtoWriter().string(1, "hi").float(2, 1.5).message(3, inner);
  assertEquals(hex(outer.finish()), "0a 02 68 69 15 00 00 c0 3f 1a 03 08 96 01");
  // Packed repeated: one key, the byte length, then the values.
  assertEquals(hex(new ProtoWriter().packedInts(4, [3, 270]).finish()), "22 03 03 8e 02");
  assertEquals(
    hex(new ProtoWriter().packedFloats(5, [1, -2]).finish()),
    "2a 08 00 00 80 3f 00 00 00 c0",
  );
  // A field number that needs a two-byte key: (16 << 3) | 0 = 128.
  assertEquals(hex(new ProtoWriter().int(16, 1).finish()), "80 01 01");
});

Deno.test("ProtoWriter rejects numbers protobuf cannot hold", () => {
  assertThrows(() => new ProtoWriter().varint(0.5), RangeError, "safe integer");
  assertThrows(() => new ProtoWriter().varint(2n ** 64n), RangeError, "64-bit");
  assertThrows(() => new ProtoWriter().int(0, 1), RangeError, "field number");
});

// ---------------------------------------------------------------------------------------------

let ortReady = false;
function setupOrt(): void {
  if (ortReady) return;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = pathToFileURL(packageMainDir("onnxruntime-web")).href;
  ort.env.logLevel = "error";
  ortReady = true;
}

/** Runs the exported model on `count` images (`count * perImage` values) in one batch. */
async function runOnnx(graph: Graph, pixels: Float32Array, count: number): Promise<Float32Array> {
  setupOrt();
  const onnx = exportOnnx(graph);
  const session = await ort.InferenceSession.create(onnx.bytes, { executionProviders: ["wasm"] });
  try {
    const shape = [count, ...onnx.inputShape.slice(1)];
    const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor("float32", pixels, shape) });
    return Float32Array.from(out[ONNX_OUTPUT_NAME]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

/**
 * Probability tolerance between onnxruntime and the interpreter. Both compute in float32 but sum
 * in different orders (ORT's GEMM/conv kernels block and vectorise); logits of these nets are
 * at most a few hundred, so their rounding differs by ~1e-5 relative, and a softmax output moves
 * by at most the logit difference. Measured: at most 2e-5 (the seed FC net fed raw pixels).
 */
const PROB_TOL = 1e-4;
/** A differing argmax is accepted only on a near-tie: top-two gap within float32 noise. */
const TIE_TOL = 1e-5;

/** Compares the exported model with the interpreter on the first `count` MNIST test images. */
async function checkAgainstInterpreter(graph: Graph, count: number): Promise<void> {
  const { images } = loadMnist("test");
  const pixels = Float32Array.from(images.pixels.subarray(0, count * 784));
  const got = await runOnnx(graph, pixels, count);
  assertEquals(got.length, count * 10);
  let maxDiff = 0, disagree = 0;
  for (let i = 0; i < count; i++) {
    const want = runGraph(graph, pixels.subarray(i * 784, (i + 1) * 784));
    for (let j = 0; j < 10; j++) maxDiff = Math.max(maxDiff, Math.abs(want[j]! - got[i * 10 + j]!));
    const a = argmax(want), b = argmax(got, i * 10, 10);
    if (a !== b && want[a]! - want[b]! > TIE_TOL) disagree++;
  }
  assert(maxDiff <= PROB_TOL, `${graph.meta.layout}: max |p_onnx - p_interp| = ${maxDiff}`);
  assertEquals(disagree, 0, `${graph.meta.layout}: ${disagree} of ${count} digits differ`);
}

// The seed CNN gets 8/16 channels instead of 32/64: the layout (valid convs, pre-broadcast
// biases, F16 kernels) is what is tested, and the interpreter runs 1,000 images 8x faster.
const layouts: [string, () => Uint8Array, string][] = [
  ["seed-cnn", () => ggufOf("mnist-cnn", seedCnnWeights(11, { c1: 8, c2: 16 })), "m.gguf"],
  ["seed-fc", () => legacyOf(fcWeights(12)), "m.bin"],
  ["ggml-fc", () => ggufOf("mnist-fc", fcWeights(13)), "m.gguf"],
  ["ggml-cnn", () => ggufOf("mnist-cnn", ggmlCnnWeights(14)), "m.gguf"],
];

for (const [layout, bytes, file] of layouts) {
  Deno.test(`exportOnnx() of a ${layout} model runs in onnxruntime-web with the interpreter's results on 1,000 test images`, async () => {
    const { graph, layout: detected } = loadModel(bytes(), file);
    assertEquals(detected, layout);
    await checkAgainstInterpreter(graph, 1000);
  });
}

Deno.test("exportOnnx() gives the ONNX shapes [N,1,28,28] / [N,784] -> [N,10] and fuses biases", () => {
  const cnn = exportOnnx(loadModel(ggufOf("mnist-cnn", ggmlCnnWeights(1)), "m.gguf").graph);
  assertEquals(cnn.inputShape, [-1, 1, 28, 28]);
  assertEquals(cnn.outputShape, [-1, 10]);
  // Mul, Conv, Relu, MaxPool, Conv, Relu, MaxPool, Transpose, Reshape, Gemm, Softmax.
  assertEquals(cnn.nodeCount, 11);
  const fc = exportOnnx(loadModel(legacyOf(fcWeights(2)), "m.bin").graph);
  assertEquals(fc.inputShape, [-1, 784]);
  assertEquals(fc.outputShape, [-1, 10]);
  assertEquals(fc.nodeCount, 4); // Gemm, Relu, Gemm, Softmax
});

Deno.test("exportOnnx() output is byte-identical for the same graph", () => {
  const bytes = ggufOf("mnist-cnn", seedCnnWeights(5, { c1: 4, c2: 4 }));
  const a = exportOnnx(loadModel(bytes, "m.gguf").graph).bytes;
  const b = exportOnnx(loadModel(bytes, "m.gguf").graph).bytes;
  assertEquals(a, b);
});

// ---------------------------------------------------------------------------------------------
// Small graphs for the mappings the MNIST layouts do not cover.

const meta = { layout: "test", arch: "test", name: "test" };

/** Random images [W,H,C,N] through `body`, then flatten + dense + soft_max. */
function imageGraph(
  dims: [number, number, number],
  batch: number,
  body: (b: GraphBuilder, x: number, r: () => number) => number,
  seed = 1,
): Graph {
  const r = rng(seed);
  const b = new GraphBuilder();
  const x = b.input("images", [...dims, batch]);
  // A 1x1 pool marks the input as an image (batch at ne[3]) and changes nothing.
  const id: Pool2dParams = { pool: "max", k0: 1, k1: 1, s0: 1, s1: 1, p0: 0, p1: 0 };
  const y = body(b, b.scale(b.pool2d(x, id, "identity"), 1 / 255), r);
  const ne = b.node(y).ne;
  const flat = b.reshape(b.cont(y), [ne[0] * ne[1] * ne[2], batch], "flatten");
  const k = ne[0] * ne[1] * ne[2];
  const w = b.weight("dense", [k, 10], "f32", randomArray(r, k * 10, 0.3));
  return b.build(x, b.softMax(b.mulMat(w, flat), "probs"), meta);
}

/** Runs `graph` (built with batch `batch`) in ORT and the interpreter on random pixels. */
async function checkRandom(graph: Graph, batch: number, seed = 7): Promise<void> {
  const n = graph.nodes[graph.input]!.ne;
  const pixels = Float32Array.from(randomPixels(rng(seed), n[0] * n[1] * n[2] * n[3]));
  const want = runGraph(graph, pixels);
  const got = await runOnnx(graph, pixels, batch);
  assertEquals(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert(
      Math.abs(got[i]! - want[i]!) <= PROB_TOL,
      `value ${i}: onnx ${got[i]}, interpreter ${want[i]}`,
    );
  }
}

Deno.test("exportOnnx() maps every ggml_permute that keeps the batch dim last to the right Transpose", async () => {
  // The six permutations of dims 0..2 (dim 3 is the batch), on an image whose dims all differ.
  const perms: [number, number, number, number][] = [
    [0, 1, 2, 3],
    [0, 2, 1, 3],
    [1, 0, 2, 3],
    [1, 2, 0, 3],
    [2, 0, 1, 3],
    [2, 1, 0, 3],
  ];
  for (const axes of perms) {
    const g = imageGraph([5, 4, 3], 2, (b, x) => b.permute(x, axes));
    await checkRandom(g, 2);
  }
});

Deno.test("exportOnnx() maps strides, unequal padding, dilation and padded average pooling", async () => {
  const g = imageGraph([13, 11, 2], 3, (b, x, r) => {
    const k = b.weight("k", [3, 2, 2, 4], "f32", randomArray(r, 48, 0.5));
    const c = b.conv2d(k, x, { s0: 2, s1: 1, p0: 1, p1: 2, d0: 2, d1: 1 }, "conv");
    const bias = b.weight("bias", [1, 1, 4], "f32", randomArray(r, 4, 0.5));
    const a = b.relu(b.add_(c, bias));
    return b.pool2d(a, { pool: "avg", k0: 3, k1: 2, s0: 2, s1: 2, p0: 1, p1: 1 }, "avgpool");
  });
  await checkRandom(g, 3);
});

Deno.test("exportOnnx() tiles a bias that ggml_add repeats but ONNX cannot broadcast", async () => {
  // bias [2,1,3] repeated over an activation [6,5,3]: ne[0] 2 divides 6 but is not 1 or 6.
  const g = imageGraph([6, 5, 3], 1, (b, x, r) => {
    const bias = b.weight("bias", [2, 1, 3], "f32", randomArray(r, 6, 0.5));
    return b.add_(x, bias);
  });
  await checkRandom(g, 1);
});

Deno.test("exportOnnx() exports a batch-4 FC graph whose ONNX batch dim stays dynamic", async () => {
  const r = rng(3);
  const b = new GraphBuilder();
  const x = b.input("images", [784, 4]);
  const w = b.weight("w", [784, 10], "f32", randomArray(r, 7840, 0.01));
  const bias = b.weight("b", [10], "f32", randomArray(r, 10, 0.1));
  const g = b.build(x, b.softMax(b.add_(b.mulMat(w, x), bias)), meta);
  await checkRandom(g, 4);
  // The same model on 3 images: the batch dim is N, not 4.
  const got = await runOnnx(g, new Float32Array(3 * 784).fill(100), 3);
  assertEquals(got.length, 30);
});

Deno.test("exportOnnx() rejects a graph whose mul_mat would sum over the batch", () => {
  const b = new GraphBuilder();
  const x = b.input("images", [784, 1]);
  // mul_mat(x, w): x's ne[0] (the pixels) is contracted but x's batch would land in ne[0].
  const w = b.weight("w", [784, 10], "f32", new Float32Array(7840));
  const g = b.build(x, b.softMax(b.mulMat(x, w)), meta);
  assertThrows(() => exportOnnx(g), GraphError, "weight as first operand");
});

// ---------------------------------------------------------------------------------------------
// Real models, when present.

const fixtures = new URL("../../shared/fixtures/", import.meta.url);
const modelsDir = new URL("../models/", import.meta.url);

function existing(dir: URL, names: string[]): string[] {
  return names.filter((n) => {
    try {
      return Deno.statSync(new URL(n, dir)).isFile;
    } catch {
      return false;
    }
  });
}

function modelFiles(): string[] {
  try {
    // The MNIST models (checked on MNIST test images); magika.gguf is a file-type model.
    return [...Deno.readDirSync(modelsDir)]
      .filter((e) => e.isFile && e.name.startsWith("mnist-") && e.name.endsWith(".gguf"))
      .map((e) => e.name).sort();
  } catch {
    return [];
  }
}

const fixtureFiles = existing(fixtures, ["ggml-mnist-fc-f32.gguf", "ggml-model-f32.bin"]);
if (fixtureFiles.length === 0) {
  console.log("onnx_test: ../shared/fixtures absent, fixture tests skipped");
}
for (const name of ["ggml-mnist-fc-f32.gguf", "ggml-model-f32.bin"]) {
  Deno.test({
    name: `exportOnnx() of the fixture ${name} matches the interpreter on 1,000 test images`,
    ignore: !fixtureFiles.includes(name),
    fn: async () => {
      const { graph } = loadModel(await Deno.readFile(new URL(name, fixtures)), name);
      await checkAgainstInterpreter(graph, 1000);
    },
  });
}

const shipped = modelFiles();
if (shipped.length === 0) {
  console.log("onnx_test: no models/*.gguf yet, shipped-model tests skipped");
}
for (const name of shipped) {
  Deno.test(`exportOnnx() of models/${name} matches the interpreter on test images`, async () => {
    const { graph } = loadModel(await Deno.readFile(new URL(name, modelsDir)), name);
    // The interpreter takes ~30 ms per image on a 32/64-channel CNN: 300 images keep the test
    // short; FC models (2 ms per image) get 1,000.
    await checkAgainstInterpreter(graph, graph.meta.arch === "mnist-cnn" ? 300 : 1000);
  });
}

// ---------------------------------------------------------------------------------------------
// The CLI.

Deno.test("ggufc export --onnx writes the model that exportOnnx() gives", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = ggufOf("mnist-cnn", ggmlCnnWeights(41, { c1: 2, c2: 2 }));
    await Deno.writeFile(`${dir}/m.gguf`, bytes);
    await exportCommand.run([`${dir}/m.gguf`, "--onnx", "-o", `${dir}/m.onnx`]);
    const want = exportOnnx(loadModel(bytes, `${dir}/m.gguf`).graph).bytes;
    assertEquals(await Deno.readFile(`${dir}/m.onnx`), want);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ggufc export names what is wrong with its command line", async () => {
  const cases: [string[], string][] = [
    [["m.gguf", "-o", "x.onnx"], "--onnx"],
    [["m.gguf", "--onnx"], "-o OUT.onnx"],
    [["--onnx", "-o", "x.onnx"], "one MODEL file"],
    [["does-not-exist.gguf", "--onnx", "-o", "x.onnx"], "does not exist"],
    [["m.gguf", "--onnx", "-o", "x.onnx", "--check", "0"], "--check"],
    [["m.gguf", "--onnx", "-o", "x.onnx", "--bogus"], "bogus"],
  ];
  for (const [args, msg] of cases) {
    let caught: unknown;
    try {
      await exportCommand.run(args);
    } catch (e) {
      caught = e;
    }
    assert(caught instanceof UsageError, `${args.join(" ")}: expected a UsageError, got ${caught}`);
    assert(caught.message.includes(msg), `${args.join(" ")}: '${caught.message}' lacks '${msg}'`);
  }
});
