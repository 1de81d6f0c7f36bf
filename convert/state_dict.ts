/**
 * `ggufc convert`: a PyTorch state dict of the seed's fully connected MNIST net to GGUF in
 * ggml's `mnist-fc` layout, and to the seed's legacy `ggml`-magic file exactly as the seed's
 * `convert-h5-to-ggml.py` writes it.
 *
 * PyTorch stores a Linear weight as `[out, in]` row-major; read innermost first that is ggml
 * `ne = [in, out]`, so weights are copied as they are and only the shape is reversed.
 *
 * @module
 */
import { FormatError } from "../ggml/errors.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import type { GgufValue } from "../ggml/gguf_reader.ts";
import { type GgufWriteTensor, writeGguf } from "../ggml/gguf_writer.ts";
import { writeLegacyGgml } from "../ggml/legacy.ts";
import { readStateDict, type StateDict, type TorchTensor } from "./pytorch.ts";

/** Options of {@link convertStateDict}. */
export interface ConvertOptions {
  /** Written as `general.name` when given. */
  name?: string;
}

/** What {@link convertStateDict} produces. */
export interface ConvertResult {
  /** The GGUF file (`general.architecture = "mnist-fc"`). */
  gguf: Uint8Array;
  /** The seed's legacy `ggml`-magic file. */
  legacy: Uint8Array;
  /** The state dict that was read. */
  stateDict: StateDict;
}

/** Pixels of one MNIST image: the input width of fc1. */
const MNIST_PIXELS = 784;
/** Digit classes: the output width of fc2. */
const MNIST_CLASSES = 10;

/**
 * Reads a PyTorch state dict (`torch.save` zip) of the seed's FC net and converts it to an
 * `mnist-fc` GGUF and to the seed's legacy ggml file.
 *
 * @param bytes the state dict file
 * @param file its name, for errors
 * @param opts optional `general.name`
 * @returns both output files and the tensors read
 * @throws FormatError when the file is not a state dict or not the FC net's four tensors
 * @example
 * ```ts ignore
 * import { convertStateDict } from "./state_dict.ts";
 * const { gguf } = convertStateDict(await Deno.readFile("mnist_model.state_dict"), "mnist_model.state_dict");
 * await Deno.writeFile("mnist-fc.gguf", gguf);
 * ```
 */
export function convertStateDict(
  bytes: Uint8Array,
  file = "<memory>",
  opts: ConvertOptions = {},
): ConvertResult {
  const stateDict = readStateDict(bytes, file);
  return {
    gguf: stateDictToMnistFcGguf(stateDict, opts),
    legacy: stateDictToLegacyGgml(stateDict),
    stateDict,
  };
}

/**
 * The `mnist-fc` GGUF of a state dict holding exactly `fc1.weight` `[H, 784]`, `fc1.bias`
 * `[H]`, `fc2.weight` `[10, H]` and `fc2.bias` `[10]` (PyTorch order), as ggml's
 * `mnist-common.cpp` saves it: tensors in that order, F32, `fc1.weight` ne `[784, H]`.
 *
 * @param sd the state dict
 * @param opts optional `general.name`
 * @returns the GGUF bytes
 * @throws FormatError naming the tensor whose presence or shape is wrong
 */
export function stateDictToMnistFcGguf(sd: StateDict, opts: ConvertOptions = {}): Uint8Array {
  const byName = new Map(sd.tensors.map((t) => [t.name, t]));
  const expected = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"];
  const extra = sd.tensors.map((t) => t.name).filter((n) => !expected.includes(n));
  if (extra.length > 0) {
    throw new FormatError(
      sd.file,
      0,
      "state dict keys",
      `only ${expected.join(", ")} (the mnist-fc net)`,
      `also ${extra.join(", ")}`,
    );
  }
  const get = (name: string): TorchTensor => {
    const t = byName.get(name);
    if (!t) {
      throw new FormatError(sd.file, 0, "state dict keys", `a tensor '${name}'`, "none");
    }
    return t;
  };
  const fc1w = get("fc1.weight");
  const hidden = fc1w.shape[0] ?? 0;
  // Shapes below are PyTorch order (outermost first).
  const shapes: Record<string, number[]> = {
    "fc1.weight": [hidden, MNIST_PIXELS],
    "fc1.bias": [hidden],
    "fc2.weight": [MNIST_CLASSES, hidden],
    "fc2.bias": [MNIST_CLASSES],
  };
  const tensors: GgufWriteTensor[] = expected.map((name) => {
    const t = get(name);
    const want = shapes[name]!;
    if (hidden < 1 || t.shape.join(",") !== want.join(",")) {
      throw new FormatError(
        sd.file,
        0,
        `tensor '${name}' shape (PyTorch order)`,
        `(${want.join(", ")})`,
        `(${t.shape.join(", ")})`,
      );
    }
    return {
      name,
      ne: [...t.shape].reverse(),
      type: GgmlType.F32,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    };
  });
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: "mnist-fc" }],
  ];
  if (opts.name !== undefined) {
    metadata.push(["general.name", { type: "string", value: opts.name }]);
  }
  return writeGguf({ metadata, tensors });
}

/**
 * The seed's legacy file as `convert-h5-to-ggml.py` writes it: every state dict entry in
 * order, squeezed (size-1 dims dropped), shape reversed into ggml order, data as float32.
 *
 * @param sd the state dict
 * @returns the legacy file bytes
 */
export function stateDictToLegacyGgml(sd: StateDict): Uint8Array {
  return writeLegacyGgml(sd.tensors.map((t) => {
    const ne = t.shape.filter((d) => d !== 1).reverse();
    // The script would write n_dims 0 for a one-element tensor, but ggml's loader (and
    // writeLegacyGgml) need 1 to 4 dims: refuse such files instead of writing one ggml rejects.
    if (ne.length < 1 || ne.length > 4) {
      throw new FormatError(
        sd.file,
        0,
        `tensor '${t.name}' for the legacy ggml file`,
        "1 to 4 dims other than 1 after squeezing",
        `shape (${t.shape.join(", ")})`,
      );
    }
    return { ne, data: t.data };
  }));
}
