/**
 * `ggufc convert` on Keras HDF5 models: Magika standard_v1 to the GGUF ggml's
 * `examples/magika/convert.py` writes (byte for byte against the fixture), the tensor layout on a
 * synthetic model written here with h5wasm, and one clear line (exit 3) for a file that is not
 * HDF5, an HDF5 file that is not a Keras model, a Keras model of another architecture, and a
 * truncated or corrupt file.
 */
import assert from "node:assert/strict";
import h5wasm, { type File as H5File } from "h5wasm";
import { convertKerasModel } from "../convert/keras_magika.ts";
import { findHdf5Signature } from "../convert/keras_h5.ts";
import { EXIT_FORMAT_ERROR, EXIT_USAGE_ERROR, FormatError } from "../ggml/errors.ts";
import { metaString, readGguf, tensorToF32 } from "../ggml/gguf_reader.ts";
import { main } from "../main.ts";
import { rng } from "../testkit/random.ts";

const FIXTURES = new URL("../../shared/fixtures/magika/", import.meta.url);
const MODEL_H5 = new URL("model.h5", FIXTURES);
const GGML_GGUF = new URL("magika-standard_v1.gguf", FIXTURES);
const SHIPPED = new URL("../models/magika.gguf", import.meta.url);
const haveFixtures = await exists(MODEL_H5) && await exists(GGML_GGUF);
if (!haveFixtures) {
  console.log("convert_keras_test: ../shared/fixtures/magika absent, skipping the fixture tests");
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

const dir = Deno.makeTempDirSync({ prefix: "ggufc-keras-" });
const path = (name: string) => `${dir}/${name}`;
function write(name: string, bytes: Uint8Array): string {
  Deno.writeFileSync(path(name), bytes);
  return path(name);
}

// ---------------------------------------------------------------------------------------------
// Keras HDF5 files written with h5wasm, laid out as Keras 2 `model.save("x.h5")` lays them out.

const { FS } = await h5wasm.ready;
let fileCount = 0;

/** Writes an HDF5 file in h5wasm's in-memory file system and returns its bytes. */
function hdf5(build: (f: H5File) => void): Uint8Array {
  const name = `/convert-keras-test-${fileCount++}.h5`;
  const f = new h5wasm.File(name, "w");
  try {
    build(f);
  } finally {
    f.close();
  }
  const bytes = FS.readFile(name);
  FS.unlink(name);
  return bytes;
}

type Weight = { name: string; shape: number[]; data: Float32Array | Float64Array };

/** A Keras model file: `model_config` JSON and `model_weights/<layer>/<weight>` datasets. */
function kerasH5(config: unknown, weights: Map<string, Weight[]>, layerNames: string[]) {
  return hdf5((f) => {
    f.create_attribute("keras_version", "2.11.0");
    f.create_attribute("backend", "tensorflow");
    f.create_attribute("model_config", JSON.stringify(config));
    const mw = f.create_group("model_weights");
    mw.create_attribute("layer_names", layerNames);
    for (const layer of layerNames) {
      const g = mw.create_group(layer);
      const ws = weights.get(layer) ?? [];
      // Keras stores an empty name list as an empty float64 array.
      if (ws.length === 0) g.create_attribute("weight_names", new Float64Array(0), [0]);
      else g.create_attribute("weight_names", ws.map((w) => w.name));
      if (ws.length > 0) {
        const inner = g.create_group(layer);
        for (const w of ws) {
          inner.create_dataset({ name: w.name.split("/")[1]!, data: w.data, shape: w.shape });
        }
      }
    }
  });
}

const node = (input: string, kwargs: Record<string, unknown> = {}) => [[[input, 0, 0, kwargs]]];
const dense = (name: string, input: string, units: number, activation: string) => ({
  class_name: "Dense",
  name,
  config: {
    name,
    trainable: true,
    dtype: "float32",
    units,
    activation,
    use_bias: true,
    kernel_initializer: { class_name: "GlorotUniform", config: { seed: null } },
    bias_initializer: { class_name: "Zeros", config: {} },
  },
  inbound_nodes: node(input),
});
const layerNorm = (name: string, input: string) => ({
  class_name: "LayerNormalization",
  name,
  config: { name, dtype: "float32", axis: [1], epsilon: 0.001, center: true, scale: true },
  inbound_nodes: node(input),
});
const plain = (className: string, name: string, input: string, extra = {}) => ({
  class_name: className,
  name,
  config: { name, trainable: true, dtype: "float32", ...extra },
  inbound_nodes: node(input),
});

/** Magika standard_v1's model_config, written out as Keras 2.11 saves it. */
function magikaConfig() {
  const layers = [
    {
      class_name: "InputLayer",
      name: "bytes",
      config: { batch_input_shape: [null, 1536], dtype: "float32", name: "bytes" },
      inbound_nodes: [],
    },
    {
      class_name: "TFOpLambda",
      name: "tf.cast",
      config: { name: "tf.cast", dtype: "float32", function: "cast" },
      inbound_nodes: [["bytes", 0, 0, { dtype: "int32" }]],
    },
    {
      class_name: "TFOpLambda",
      name: "tf.one_hot",
      config: { name: "tf.one_hot", dtype: "float32", function: "one_hot" },
      inbound_nodes: [["tf.cast", 0, 0, { depth: 257, dtype: "float32" }]],
    },
    dense("dense", "tf.one_hot", 128, "gelu"),
    plain("SpatialDropout1D", "spatial_dropout1d", "dense", { rate: 0.1 }),
    plain("Reshape", "reshape", "spatial_dropout1d", { target_shape: [384, -1] }),
    layerNorm("layer_normalization", "reshape"),
    plain("Dropout", "dropout", "layer_normalization", { rate: 0.1 }),
    dense("dense_1", "dropout", 256, "gelu"),
    dense("dense_2", "dense_1", 256, "gelu"),
    plain("GlobalMaxPooling1D", "global_max_pooling1d", "dense_2", {
      data_format: "channels_last",
      keepdims: false,
    }),
    layerNorm("layer_normalization_1", "global_max_pooling1d"),
    plain("Dropout", "dropout_1", "layer_normalization_1", { rate: 0.1 }),
    dense("target_label", "dropout_1", 113, "softmax"),
  ];
  return {
    class_name: "Functional",
    config: {
      name: "model",
      layers,
      input_layers: [["bytes", 0, 0]],
      output_layers: [["target_label", 0, 0]],
    },
  };
}

/** Magika's weights by layer (Keras shapes), filled with seeded random values. */
function magikaWeights(seed: number): Map<string, Weight[]> {
  const r = rng(seed);
  const w = (name: string, shape: number[]): Weight => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
    return { name, shape, data };
  };
  const kb = (layer: string, fanIn: number, units: number): [string, Weight[]] => [
    layer,
    [w(`${layer}/kernel:0`, [fanIn, units]), w(`${layer}/bias:0`, [units])],
  ];
  const gb = (layer: string, n: number): [string, Weight[]] => [
    layer,
    [w(`${layer}/gamma:0`, [n]), w(`${layer}/beta:0`, [n])],
  ];
  return new Map<string, Weight[]>([
    kb("dense", 257, 128),
    gb("layer_normalization", 384),
    kb("dense_1", 512, 256),
    kb("dense_2", 256, 256),
    gb("layer_normalization_1", 256),
    kb("target_label", 256, 113),
  ]);
}

const MAGIKA_LAYERS = magikaConfig().config.layers.map((l) => l.name);
const magikaH5 = (config: unknown = magikaConfig(), weights = magikaWeights(1)) =>
  kerasH5(config, weights, MAGIKA_LAYERS);

/** Magika's config with one edit applied to a copy. */
function editedConfig(edit: (layers: Record<string, unknown>[]) => void) {
  const c = magikaConfig();
  edit(c.config.layers as Record<string, unknown>[]);
  return c;
}

/** Runs the conversion and returns the FormatError's one-line message. */
async function formatError(bytes: Uint8Array, file = "x.h5"): Promise<string> {
  try {
    await convertKerasModel(bytes, file);
  } catch (e) {
    assert.ok(e instanceof FormatError, `a FormatError, got ${e}`);
    assert.doesNotMatch(e.message, /\n/, "one line");
    return e.message;
  }
  throw new Error("converted a file it should refuse");
}

/**
 * Element-wise equality of two arrays, failing with the first difference (node's deepEqual
 * would build a diff of a megabyte of values, which takes minutes).
 */
function sameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: first difference at index ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "convertKerasModel() on Magika's model.h5 equals ggml's convert.py GGUF byte for byte",
  ignore: !haveFixtures,
  async fn() {
    const { gguf, architecture, tensors } = await convertKerasModel(
      await Deno.readFile(MODEL_H5),
      "model.h5",
    );
    assert.equal(architecture, "Magika standard_v1");
    assert.equal(tensors.length, 12);
    sameValues(gguf, await Deno.readFile(GGML_GGUF), "converted vs ggml's GGUF");
  },
});

Deno.test("models/magika.gguf: its card states its size, sha256 and source; it equals ggml's file", async () => {
  const bytes = await Deno.readFile(SHIPPED);
  const cards = await Deno.readTextFile(new URL("../models/README.md", import.meta.url));
  const card = cards.split(/^## /m).find((s) => s.startsWith("magika.gguf"));
  assert.ok(card, "models/README.md has a card for magika.gguf");
  const sha = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...sha].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.match(card, new RegExp(`\\| sha256 +\\| \`${hex}\``), "the card's sha256 is the file's");
  const size = card.match(/\| file size +\| ([0-9,]+) bytes/);
  assert.ok(size, "the card states the file size");
  assert.equal(Number(size[1]!.replaceAll(",", "")), bytes.length);
  assert.match(card, /deno task ggufc convert \S*model\.h5 -o models\/magika\.gguf/);
  assert.match(card, /Apache-2\.0/);
  assert.match(card, /\[MAGIKA-LICENSE\]\(MAGIKA-LICENSE\)/);
  const license = await Deno.readTextFile(new URL("../models/MAGIKA-LICENSE", import.meta.url));
  assert.match(license, /^\s*Apache License\s+Version 2\.0, January 2004/);
  const gguf = readGguf(bytes, "magika.gguf");
  assert.equal(metaString(gguf, "general.architecture"), "magika");
  const params = gguf.tensors.reduce((n, t) => n + t.ne.reduce((a, b) => a * b, 1), 0);
  assert.match(card, new RegExp(`\\| parameters +\\| ${params.toLocaleString("en-US")} `));
  if (haveFixtures) {
    sameValues(bytes, await Deno.readFile(GGML_GGUF), "models/magika.gguf vs ggml's GGUF");
    const license = await Deno.readFile(new URL("../models/MAGIKA-LICENSE", import.meta.url));
    sameValues(license, await Deno.readFile(new URL("LICENSE", FIXTURES)), "MAGIKA-LICENSE");
  }
});

Deno.test("a Magika model written here converts to ggml's layout: layer order, ne = Keras shape, kernels transposed", async () => {
  const weights = magikaWeights(7);
  const { gguf } = await convertKerasModel(magikaH5(magikaConfig(), weights), "synthetic.h5");
  const file = readGguf(gguf, "synthetic.gguf");
  assert.equal(file.version, 3);
  assert.equal(file.alignment, 32);
  assert.deepEqual([...file.metadata.keys()], ["general.architecture"]);
  assert.equal(metaString(file, "general.architecture"), "magika");
  const expected = [...weights.values()].flat();
  assert.deepEqual(file.tensors.map((t) => t.name), expected.map((w) => w.name));
  file.tensors.forEach((t, k) => {
    const w = expected[k]!;
    assert.deepEqual(t.ne, w.shape, t.name);
    assert.equal(t.offset % 32, 0);
    const got = tensorToF32(t);
    if (w.shape.length === 1) {
      sameValues(got, w.data, t.name);
      return;
    }
    // ggml element (i, o) at i + ne0 * o is Keras kernel[i][o] (row-major: i * units + o).
    const [fanIn, units] = w.shape as [number, number];
    for (const [i, o] of [[0, 0], [1, 0], [0, 1], [fanIn - 1, units - 1], [fanIn >> 1, 3]]) {
      assert.equal(got[i! + fanIn * o!], w.data[i! * units + o!], `${t.name} (${i}, ${o})`);
    }
    const transposed = new Float32Array(got.length);
    for (let i = 0; i < fanIn; i++) {
      for (let o = 0; o < units; o++) transposed[i + fanIn * o] = w.data[i * units + o]!;
    }
    sameValues(got, transposed, t.name);
  });
});

Deno.test("findHdf5Signature() finds the superblock at 0 and after a user block of 512, 1024, ...", () => {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  const at = (offset: number, size: number) => {
    const b = new Uint8Array(size);
    b.set(sig, offset);
    return findHdf5Signature(b);
  };
  assert.equal(at(0, 8), 0);
  assert.equal(at(512, 600), 512);
  assert.equal(at(2048, 4096), 2048);
  assert.equal(at(100, 600), -1, "only 0 and powers of two from 512");
  assert.equal(at(1000, 1200), -1);
  assert.equal(findHdf5Signature(new Uint8Array(sig.slice(0, 7))), -1, "7 bytes are not enough");
});

Deno.test("a file that is not HDF5 is one line naming the signature", async () => {
  const text = new TextEncoder().encode("not a model, just text\n".repeat(100));
  assert.match(
    await formatError(text, "notes.txt"),
    /^notes\.txt: byte 0: HDF5 signature: expected \\x89HDF\\r\\n\\x1a\\n at byte 0, 512, 1024, .*found bytes 6e 6f 74 20/,
  );
  assert.match(await formatError(new Uint8Array(0), "empty.h5"), /found an empty file$/);
});

Deno.test("an HDF5 file that is not a Keras model is one line naming model_config", async () => {
  const data = hdf5((f) => {
    f.create_dataset({ name: "table", data: new Float32Array([1, 2, 3]), shape: [3] });
    f.create_attribute("title", "some measurements");
  });
  assert.match(
    await formatError(data, "data.h5"),
    /^data\.h5: HDF5 \/: attribute model_config: expected a Keras model .*found attributes \[title\]$/,
  );
  const weightsOnly = hdf5((f) => f.create_attribute("layer_names", ["dense"]));
  assert.match(await formatError(weightsOnly), /weights-only file/);
  const notJson = hdf5((f) => f.create_attribute("model_config", "{layers: oops"));
  assert.match(await formatError(notJson), /model_config: expected JSON, found text that does not/);
  const notString = hdf5((f) => f.create_attribute("model_config", new Float32Array([1, 2])));
  assert.match(await formatError(notString), /model_config: expected a JSON string, found type/);
  const noWeights = hdf5((f) => f.create_attribute("model_config", JSON.stringify(magikaConfig())));
  assert.match(await formatError(noWeights), /HDF5 \/model_weights: object: expected .*nothing$/);
});

Deno.test("a Keras model of another architecture is one line naming the first difference", async () => {
  const mlp = {
    class_name: "Sequential",
    config: { name: "mlp", layers: [{ class_name: "Dense", config: { units: 10 } }] },
  };
  assert.match(
    await formatError(kerasH5(mlp, new Map(), ["dense"]), "mlp.h5"),
    /^mlp\.h5: HDF5 \/: model_config: expected a Functional model: Magika standard_v1 .*found class_name "Sequential"$/,
  );
  const short = magikaConfig();
  short.config.layers = short.config.layers.slice(0, 5);
  assert.match(
    await formatError(magikaH5(short)),
    /model_config layers: expected the 14 layers of Magika standard_v1 .*found 5 layers$/,
  );
  const conv = editedConfig((layers) => {
    layers[3] = { ...layers[3], class_name: "Conv1D", name: "conv1d" };
  });
  assert.match(
    await formatError(magikaH5(conv)),
    /model_config layer 3: expected Dense 'dense' \(dtype "float32", units 128, .*found "Conv1D" "conv1d"$/,
  );
  const wide = editedConfig((layers) => {
    (layers[8]!.config as Record<string, unknown>).units = 512;
  });
  assert.match(
    await formatError(magikaH5(wide)),
    /model_config layer 8 'dense_1' units: expected 256 for Magika standard_v1 .*found 512$/,
  );
  const relu = editedConfig((layers) => {
    (layers[9]!.config as Record<string, unknown>).activation = "relu";
  });
  assert.match(await formatError(magikaH5(relu)), /'dense_2' activation: expected "gelu".*"relu"$/);
  const eps = editedConfig((layers) => {
    (layers[11]!.config as Record<string, unknown>).epsilon = 1e-5;
  });
  assert.match(
    await formatError(magikaH5(eps)),
    /'layer_normalization_1' epsilon: .*found 0\.00001$/,
  );
  const rewired = editedConfig((layers) => {
    layers[9]!.inbound_nodes = node("dropout");
  });
  assert.match(
    await formatError(magikaH5(rewired)),
    /'dense_2' inbound_nodes: expected input 'dense_1' with \{\}, found \[\[\["dropout",0,0,\{\}\]\]\]$/,
  );
  const depth = editedConfig((layers) => {
    layers[2]!.inbound_nodes = [["tf.cast", 0, 0, { depth: 256, dtype: "float32" }]];
  });
  assert.match(
    await formatError(magikaH5(depth)),
    /'tf\.one_hot' inbound_nodes: expected .*"depth":257/,
  );
});

Deno.test("Magika's layer list with other weights is one line naming the dataset", async () => {
  const smaller = magikaWeights(1);
  smaller.get("dense_1")![0] = {
    name: "dense_1/kernel:0",
    shape: [384, 256],
    data: new Float32Array(384 * 256),
  };
  assert.match(
    await formatError(magikaH5(undefined, smaller)),
    /HDF5 \/model_weights\/dense_1\/dense_1\/kernel:0: shape: expected \[512, 256\], found \[384, 256\]$/,
  );
  const doubles = magikaWeights(1);
  doubles.get("target_label")![1] = {
    name: "target_label/bias:0",
    shape: [113],
    data: new Float64Array(113),
  };
  assert.match(
    await formatError(magikaH5(undefined, doubles)),
    /target_label\/bias:0: type: expected little-endian float32, found type class 1, 8 bytes$/,
  );
  const swapped = magikaWeights(1);
  swapped.set("dense", [...swapped.get("dense")!].reverse());
  assert.match(
    await formatError(magikaH5(undefined, swapped)),
    /HDF5 \/model_weights\/dense: attribute weight_names: expected \["dense\/kernel:0","dense\/bias:0"\]/,
  );
  const renamed = kerasH5(magikaConfig(), magikaWeights(1), [...MAGIKA_LAYERS.slice(0, -1), "out"]);
  assert.match(
    await formatError(renamed),
    /\/model_weights: attribute layer_names\[13\]: expected 'target_label' .*found "out"$/,
  );
});

Deno.test("a truncated or corrupt Keras file is one line from the HDF5 library", async () => {
  const good = magikaH5();
  assert.match(
    await formatError(good.subarray(0, good.length >> 1), "cut.h5"),
    /^cut\.h5: HDF5 \/: file: expected an HDF5 file the HDF5 library reads, found truncated file: eof = \d+/,
  );
  // h5wasm writes a version-2 superblock (48 bytes, checksummed); bytes 64..71 lie in the root
  // group's object header, whose checksum then fails.
  const corrupt = good.slice();
  assert.equal(corrupt[8], 2, "superblock version 2");
  corrupt.fill(0xff, 64, 72);
  assert.match(
    await formatError(corrupt, "bad.h5"),
    /^bad\.h5: HDF5 \/: contents: expected a readable HDF5 object, found incorrect metadata checksum/,
  );
  // Seeded random byte changes: each file converts or gives one line, never anything else.
  const r = rng(5);
  let refused = 0;
  for (let i = 0; i < 40; i++) {
    const b = good.slice();
    for (let k = 0; k < 3; k++) b[Math.floor(r() * 8192)] = Math.floor(r() * 256);
    try {
      await convertKerasModel(b, `fuzz-${i}.h5`);
    } catch (e) {
      assert.ok(e instanceof FormatError, `case ${i}: ${e}`);
      assert.doesNotMatch(e.message, /\n/);
      refused++;
    }
  }
  assert.ok(refused > 0, "some of the damaged files are refused");
});

/** Runs `main(args)` with console output captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const { error, log, warn, info } = console;
  console.error = console.warn = (...a: unknown[]) => stderr.push(a.join(" "));
  console.log = console.info = (...a: unknown[]) => stdout.push(a.join(" "));
  try {
    const code = await main(args);
    const lines = (l: string[]) => l.join("\n").split("\n").filter((s) => s !== "");
    return { code, stdout: lines(stdout), stderr: lines(stderr) };
  } finally {
    Object.assign(console, { error, log, warn, info });
  }
}

Deno.test("ggufc convert routes a Keras file by content; --legacy is a usage error for it", async () => {
  const h5 = write("synthetic.keras-model", magikaH5());
  const r = await cli(["convert", h5, "-o", path("out.gguf")]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.deepEqual(r.stdout, [
    `${h5}: Keras model, Magika standard_v1, 12 tensors`,
    `wrote ${path("out.gguf")} (magika GGUF, ${Deno.statSync(path("out.gguf")).size} bytes)`,
  ]);
  const { gguf } = await convertKerasModel(magikaH5(), "synthetic.keras-model");
  sameValues(await Deno.readFile(path("out.gguf")), gguf, "CLI output vs convertKerasModel()");

  const named = await cli(["convert", h5, "-o", path("named.gguf"), "--name", "magika test"]);
  assert.equal(named.code, 0);
  assert.equal(
    metaString(readGguf(await Deno.readFile(path("named.gguf"))), "general.name"),
    "magika test",
  );

  const legacy = await cli(["convert", h5, "-o", path("x.gguf"), "--legacy", path("x.bin")]);
  assert.equal(legacy.code, EXIT_USAGE_ERROR);
  assert.deepEqual(legacy.stderr, [
    `ggufc convert: --legacy writes the seed's MNIST file from a PyTorch state dict; ${h5} is a Keras model`,
  ]);
  assert.equal(await exists(new URL(`file://${path("x.gguf")}`)), false, "nothing written");

  const neither = await cli([
    "convert",
    write("notes.txt", new TextEncoder().encode("hi")),
    "-o",
    path("y.gguf"),
  ]);
  assert.equal(neither.code, EXIT_FORMAT_ERROR);
  assert.equal(neither.stderr.length, 1);
  assert.match(
    neither.stderr[0]!,
    /^ggufc convert: notes\.txt: byte 0: magic: expected a torch\.save zip archive \(PK\) or a Keras HDF5 model/,
  );
});

Deno.test("ggufc info reads models/magika.gguf", async () => {
  const r = await cli(["info", new URL(SHIPPED).pathname]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.ok(r.stdout.some((l) => /general\.architecture\s+string\s+"magika"/.test(l)));
  assert.ok(r.stdout.some((l) => /tensors: 12 /.test(l)));
  assert.ok(r.stdout.some((l) => /target_label\/kernel:0\s+f32\s+\[256, 113\]/.test(l)));
});

Deno.test("the real CLI on a damaged Keras file: exit 3, one line on stderr, no stack trace", async () => {
  const good = magikaH5();
  const cases = [
    write("cut.h5", good.subarray(0, 5000)),
    write("other.h5", kerasH5(editedConfig((l) => l.pop()), magikaWeights(1), MAGIKA_LAYERS)),
    write("plain.h5", hdf5((f) => f.create_group("nothing_keras"))),
  ];
  for (const file of cases) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "convert", file, "-o", path("never.gguf")],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).split("\n").filter((l) => l !== "");
    assert.equal(out.code, EXIT_FORMAT_ERROR, stderr.join("\n"));
    assert.equal(stderr.length, 1, stderr.join("\n"));
    assert.match(stderr[0]!, /^ggufc convert: \S+\.h5: HDF5 \//);
    assert.doesNotMatch(stderr[0]!, /\bat .*\.(ts|js):\d+/);
  }
  assert.equal(await exists(new URL(`file://${path("never.gguf")}`)), false);
});
