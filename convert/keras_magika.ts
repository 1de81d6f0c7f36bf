/**
 * Magika `standard_v1` (Google's file-type detector, a Keras model) to GGUF exactly as ggml's
 * `examples/magika/convert.py` writes it: GGUF v3, one key `general.architecture = "magika"`,
 * every layer's weights in layer order and `layer.weights` order, named as Keras names them
 * (`dense/kernel:0`), F32, alignment 32.
 *
 * convert.py stores `weight.T`: a Keras Dense kernel `[in, out]` (row-major, out fastest) is
 * written transposed, so in the file `in` is fastest and ggml's `ne` is `[in, out]`, the Keras
 * shape itself. 1-D weights are unchanged.
 *
 * The GGUF carries no hyperparameters: ggml's runner hard-codes them (1536 byte tokens, one-hot
 * of 257, reshape to 384 x 512, layer-norm eps 0.001, gelu, 113 labels). So the converter accepts
 * exactly this layer list and configuration and refuses any other model with one line.
 *
 * @module
 */
import { GgmlType } from "../ggml/ggml_types.ts";
import type { GgufValue } from "../ggml/gguf_reader.ts";
import { type GgufWriteTensor, writeGguf } from "../ggml/gguf_writer.ts";
import { describeJson, Hdf5FormatError, type KerasH5, withKerasH5 } from "./keras_h5.ts";

/** One layer of a known Keras architecture, as its `model_config` entry must describe it. */
interface LayerSpec {
  className: string;
  name: string;
  /** Config entries that must be present with exactly these values (others are not checked). */
  config: Record<string, unknown>;
  /** The one input layer and the keyword arguments of the call, or null for the input layer. */
  inbound: { layer: string; kwargs: Record<string, unknown> } | null;
  /** The layer's weights in `layer.weights` order: short name and Keras shape. */
  weights: [string, number[]][];
}

const f32 = { dtype: "float32" };
const dense = (name: string, input: string, units: number, activation: string, fanIn: number) => ({
  className: "Dense",
  name,
  config: { ...f32, units, activation, use_bias: true },
  inbound: { layer: input, kwargs: {} },
  weights: [["kernel", [fanIn, units]], ["bias", [units]]] as [string, number[]][],
});
const layerNorm = (name: string, input: string, width: number) => ({
  className: "LayerNormalization",
  name,
  config: { ...f32, axis: [1], epsilon: 0.001, center: true, scale: true },
  inbound: { layer: input, kwargs: {} },
  weights: [["gamma", [width]], ["beta", [width]]] as [string, number[]][],
});
const passThrough = (className: string, name: string, input: string, config = {}) => ({
  className,
  name,
  config,
  inbound: { layer: input, kwargs: {} },
  weights: [],
});

/**
 * Magika standard_v1: 1536 byte tokens (512 from the start, middle and end of a file, 256 =
 * padding) -> one-hot 257 -> Dense 128 gelu -> reshape to 384 x 512 -> layer norm -> Dense 256
 * gelu -> Dense 256 gelu -> max over the 384 positions -> layer norm -> Dense 113 softmax.
 * Dropout layers are identities at inference.
 */
export const MAGIKA_STANDARD_V1: readonly LayerSpec[] = [
  {
    className: "InputLayer",
    name: "bytes",
    config: { batch_input_shape: [null, 1536], dtype: "float32" },
    inbound: null,
    weights: [],
  },
  {
    className: "TFOpLambda",
    name: "tf.cast",
    config: { function: "cast" },
    inbound: { layer: "bytes", kwargs: { dtype: "int32" } },
    weights: [],
  },
  {
    className: "TFOpLambda",
    name: "tf.one_hot",
    config: { function: "one_hot" },
    inbound: { layer: "tf.cast", kwargs: { depth: 257, dtype: "float32" } },
    weights: [],
  },
  dense("dense", "tf.one_hot", 128, "gelu", 257),
  passThrough("SpatialDropout1D", "spatial_dropout1d", "dense"),
  passThrough("Reshape", "reshape", "spatial_dropout1d", { target_shape: [384, -1] }),
  layerNorm("layer_normalization", "reshape", 384),
  passThrough("Dropout", "dropout", "layer_normalization"),
  dense("dense_1", "dropout", 256, "gelu", 512),
  dense("dense_2", "dense_1", 256, "gelu", 256),
  passThrough("GlobalMaxPooling1D", "global_max_pooling1d", "dense_2", {
    data_format: "channels_last",
    keepdims: false,
  }),
  layerNorm("layer_normalization_1", "global_max_pooling1d", 256),
  passThrough("Dropout", "dropout_1", "layer_normalization_1"),
  dense("target_label", "dropout_1", 113, "softmax", 256),
];

/** Labels Magika standard_v1 scores (the width of its last layer). */
export const MAGIKA_LABELS = 113;

/** What {@link convertKerasModel} produces. */
export interface KerasConvertResult {
  /** The GGUF file. */
  gguf: Uint8Array;
  /** The architecture recognised, e.g. `Magika standard_v1`. */
  architecture: string;
  /** The tensors written, in file order: name and ggml `ne`. */
  tensors: { name: string; ne: number[] }[];
}

/**
 * Converts a Keras HDF5 model to GGUF. The one architecture known is Magika standard_v1, written
 * as ggml's `examples/magika/convert.py` writes it (byte for byte).
 *
 * @param bytes the `.h5` file
 * @param file its name, for errors
 * @param opts optional `general.name` (ggml's convert.py writes none)
 * @returns the GGUF bytes, the architecture and the tensor list
 * @throws FormatError when the file is not HDF5, not a Keras model, or a model of another
 *   architecture (naming the first layer, setting or weight that differs)
 * @example
 * ```ts ignore
 * import { convertKerasModel } from "./keras_magika.ts";
 * const { gguf } = await convertKerasModel(await Deno.readFile("model.h5"), "model.h5");
 * await Deno.writeFile("magika.gguf", gguf);
 * ```
 */
export function convertKerasModel(
  bytes: Uint8Array,
  file: string,
  opts: { name?: string } = {},
): Promise<KerasConvertResult> {
  return withKerasH5(bytes, file, (h5) => {
    checkArchitecture(h5, MAGIKA_STANDARD_V1);
    const tensors = readWeights(h5, MAGIKA_STANDARD_V1);
    const metadata: [string, GgufValue][] = [
      ["general.architecture", { type: "string", value: "magika" }],
    ];
    // convert.py writes no name; with one the file is no longer byte-identical to its output.
    if (opts.name !== undefined) {
      metadata.push(["general.name", { type: "string", value: opts.name }]);
    }
    return {
      gguf: writeGguf({ metadata, tensors }),
      architecture: "Magika standard_v1",
      tensors: tensors.map((t) => ({ name: t.name, ne: t.ne })),
    };
  });
}

/** What the architecture check says a valid file has, for messages. */
const KNOWN = "Magika standard_v1 (the Keras architecture ggufc converts)";

/** Checks `model_config` and `layer_names` against a known layer list, field by field. */
function checkArchitecture(h5: KerasH5, spec: readonly LayerSpec[]): void {
  const fail = (field: string, expected: string, found: string): never => {
    throw new Hdf5FormatError(h5.file, "/", field, expected, found);
  };
  const model = h5.modelConfig;
  if (!isObject(model) || model.class_name !== "Functional" || !isObject(model.config)) {
    fail(
      "model_config",
      `a Functional model: ${KNOWN}`,
      isObject(model) ? `class_name ${describeJson(model.class_name)}` : describeJson(model),
    );
  }
  const config = (model as Record<string, Record<string, unknown>>).config!;
  const layers = config.layers;
  if (!Array.isArray(layers) || layers.length !== spec.length) {
    fail(
      "model_config layers",
      `the ${spec.length} layers of ${KNOWN}`,
      Array.isArray(layers) ? `${layers.length} layers` : describeJson(layers),
    );
  }
  const ends = [
    ["input_layers", [[spec[0]!.name, 0, 0]]],
    ["output_layers", [[spec.at(-1)!.name, 0, 0]]],
  ] as const;
  for (const [key, want] of ends) {
    if (!sameJson(config[key], want)) {
      fail(`model_config ${key}`, `${describeJson(want)} (${KNOWN})`, describeJson(config[key]));
    }
  }
  (layers as unknown[]).forEach((layer, i) => checkLayer(layer, spec[i]!, i, fail));
  // The weights' layer list must name the same layers in the same order as the config.
  const saved = h5.layerNames;
  const at = spec.findIndex((l, i) => saved[i] !== l.name);
  if (at >= 0 || saved.length !== spec.length) {
    const i = at >= 0 ? at : spec.length;
    throw new Hdf5FormatError(
      h5.file,
      "/model_weights",
      `attribute layer_names[${i}]`,
      i < spec.length
        ? `'${spec[i]!.name}' (${spec.length} layers as in model_config)`
        : "no more names",
      i < saved.length ? describeJson(saved[i]) : "no more names",
    );
  }
}

/** Checks one `model_config` layer entry against its spec. */
function checkLayer(
  layer: unknown,
  spec: LayerSpec,
  index: number,
  fail: (field: string, expected: string, found: string) => never,
): void {
  const field = `model_config layer ${index}`;
  const settings = Object.entries(spec.config).map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  const want = `${spec.className} '${spec.name}'${
    settings.length > 0 ? ` (${settings.join(", ")})` : ""
  } of ${KNOWN}`;
  if (!isObject(layer) || !isObject(layer.config)) {
    return fail(field, want, describeJson(layer));
  }
  if (layer.class_name !== spec.className || layer.name !== spec.name) {
    return fail(field, want, `${describeJson(layer.class_name)} ${describeJson(layer.name)}`);
  }
  const config = layer.config;
  for (const [key, value] of Object.entries(spec.config)) {
    if (!sameJson(config[key], value)) {
      return fail(
        `${field} '${spec.name}' ${key}`,
        `${JSON.stringify(value)} for ${KNOWN}`,
        describeJson(config[key]),
      );
    }
  }
  const inbound = inboundOf(layer.inbound_nodes);
  const wantInbound = spec.inbound === null
    ? "no input"
    : `input '${spec.inbound.layer}' with ${JSON.stringify(spec.inbound.kwargs)}`;
  const ok = spec.inbound === null
    ? inbound === null
    : inbound !== null && inbound !== undefined && inbound.layer === spec.inbound.layer &&
      sameJson(inbound.kwargs, spec.inbound.kwargs);
  if (!ok) {
    fail(`${field} '${spec.name}' inbound_nodes`, wantInbound, describeJson(layer.inbound_nodes));
  }
}

/**
 * The single input of a layer from its `inbound_nodes`: `[]` for an input layer, one node
 * `[[layer, node, tensor, kwargs]]` per call (TFOpLambda writes the call itself,
 * `[layer, node, tensor, kwargs]`). Null when there is no input, undefined for anything else
 * (several calls or inputs, a malformed entry).
 */
function inboundOf(
  nodes: unknown,
): { layer: string; kwargs: unknown } | null | undefined {
  if (!Array.isArray(nodes)) return undefined;
  if (nodes.length === 0) return null;
  if (nodes.length !== 1 || !Array.isArray(nodes[0])) return undefined;
  const node: unknown[] = nodes[0];
  const inputs = Array.isArray(node[0]) ? node : [node];
  if (inputs.length !== 1) return undefined;
  const input = inputs[0];
  if (!Array.isArray(input) || input.length !== 4 || typeof input[0] !== "string") return undefined;
  if (input[1] !== 0 || input[2] !== 0) return undefined;
  return { layer: input[0], kwargs: input[3] };
}

/**
 * Reads every layer's weights in order and lays them out as convert.py does: 2-D kernels
 * transposed (data index `o * in + i` holds `kernel[i][o]`), `ne` equal to the Keras shape.
 */
function readWeights(h5: KerasH5, spec: readonly LayerSpec[]): GgufWriteTensor[] {
  const tensors: GgufWriteTensor[] = [];
  for (const layer of spec) {
    const want = layer.weights.map(([short]) => `${layer.name}/${short}:0`);
    const names = h5.weightNames(layer.name);
    if (!sameJson(names, want)) {
      throw new Hdf5FormatError(
        h5.file,
        `/model_weights/${layer.name}`,
        "attribute weight_names",
        describeJson(want),
        describeJson(names),
      );
    }
    layer.weights.forEach(([, shape], i) => {
      const w = h5.readWeight(layer.name, want[i]!, shape);
      const data = shape.length === 2 ? transpose(w.data, shape[0]!, shape[1]!) : w.data;
      tensors.push({
        name: w.name,
        ne: [...shape],
        type: GgmlType.F32,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      });
    });
  }
  return tensors;
}

/** `rows x cols` row-major -> `cols x rows` row-major. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Structural equality of JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return false;
}
