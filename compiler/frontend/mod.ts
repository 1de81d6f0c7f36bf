/**
 * Frontend: a model file (GGUF, or the seed's legacy `ggml` FC file) to a {@link Graph}.
 * The layout is detected from the file format, `general.architecture` and the tensor names.
 *
 * @module
 */
import { FormatError } from "../../ggml/errors.ts";
import { type GgufFile, metaString, readGguf, tensorToF32 } from "../../ggml/gguf_reader.ts";
import { ggmlTypeName } from "../../ggml/ggml_types.ts";
import { isLegacyGgml, readLegacyGgml } from "../../ggml/legacy.ts";
import type { Graph } from "../ir/graph.ts";
import { buildMagika, MAGIKA_TENSORS } from "./magika_graph.ts";
import { buildCnn, buildFc, LAYOUT_SIGNATURES, type MnistLayout } from "./mnist_graphs.ts";
import { WeightSet, type WeightTensor } from "./weights.ts";

export { MNIST_HW, type MnistLayout } from "./mnist_graphs.ts";
export { MAGIKA, MAGIKA_LABELS } from "./magika_graph.ts";

/** Every model layout this project reads: the four MNIST ones and Google's Magika. */
export type ModelLayout = MnistLayout | "magika";

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Images (MNIST) or files (Magika) per graph run: the input's last dim. Default 1. */
  readonly batch?: number;
}

/** A model file read and turned into a graph. */
export interface LoadedModel {
  readonly graph: Graph;
  readonly layout: ModelLayout;
  /** The parsed GGUF, or `undefined` for a legacy file. */
  readonly gguf?: GgufFile;
}

const SUPPORTED = "seed CNN (GGUF mnist-cnn: kernel1, bias1, kernel2, bias2, dense_w, dense_b), " +
  "seed FC (legacy ggml file), ggml mnist-fc (GGUF: fc1.weight, fc1.bias, fc2.weight, fc2.bias), " +
  "ggml mnist-cnn (GGUF: conv1.kernel, conv1.bias, conv2.kernel, conv2.bias, dense.weight, dense.bias), " +
  "Magika standard_v1 (GGUF arch magika, as ggml's examples/magika/convert.py writes it)";

/**
 * Reads a model file and builds its graph.
 *
 * @param bytes the whole file
 * @param file the file name (for errors and the default model name)
 * @param options batch size
 * @returns the graph, its detected layout and the parsed GGUF
 * @example
 * ```ts
 * import { loadModel } from "./mod.ts";
 * const { graph, layout } = loadModel(await Deno.readFile("models/mnist-cnn.gguf"), "mnist-cnn.gguf");
 * console.log(layout, graph.nodes.length); // seed-cnn 22
 * ```
 */
export function loadModel(
  bytes: Uint8Array,
  file: string,
  options: LoadModelOptions = {},
): LoadedModel {
  const batch = options.batch ?? 1;
  const baseName = file.split(/[\\/]/).pop()!.replace(/\.(gguf|bin)$/, "");
  if (isLegacyGgml(bytes)) {
    const tensors = readLegacyGgml(bytes, file);
    const weights = new WeightSet(
      file,
      tensors.map((t): WeightTensor => ({
        name: t.name,
        ne: t.ne,
        type: "f32",
        fileOffset: 0,
        values: () => t.data,
      })),
    );
    return { graph: buildFc(weights, "seed-fc", baseName, batch), layout: "seed-fc" };
  }

  const gguf = readGguf(bytes, file);
  const weights = new WeightSet(
    file,
    gguf.tensors.map((t): WeightTensor => {
      let cached: Float32Array | undefined;
      return {
        name: t.name,
        ne: t.ne,
        type: ggmlTypeName(t.type),
        fileOffset: t.fileOffset,
        values: () => (cached ??= tensorToF32(t, file)),
      };
    }),
  );
  const arch = metaString(gguf, "general.architecture");
  const name = metaString(gguf, "general.name") ?? baseName;
  const layout = detectLayout(arch, weights, file);
  const graph = layout === "magika"
    ? buildMagika(weights, name, batch)
    : layout === "seed-cnn" || layout === "ggml-cnn"
    ? buildCnn(weights, layout, name, batch)
    : buildFc(weights, "ggml-fc", name, batch);
  return { graph, layout, gguf };
}

function detectLayout(arch: string | undefined, w: WeightSet, file: string): ModelLayout {
  // ggml's magika convert.py writes general.architecture = "magika"; a file without the key
  // but with all of standard_v1's tensors is read as Magika too.
  if (arch === "magika" || (arch === undefined && w.hasAll(MAGIKA_TENSORS))) return "magika";
  if (arch !== undefined && arch !== "mnist-cnn" && arch !== "mnist-fc") {
    throw new FormatError(
      file,
      0,
      "general.architecture",
      `a supported model: ${SUPPORTED}`,
      `'${arch}'`,
    );
  }
  if (arch !== "mnist-fc") {
    if (w.hasAll(LAYOUT_SIGNATURES["seed-cnn"])) return "seed-cnn";
    if (w.hasAll(LAYOUT_SIGNATURES["ggml-cnn"])) return "ggml-cnn";
  }
  if (arch !== "mnist-cnn" && w.hasAll(LAYOUT_SIGNATURES["ggml-fc"])) return "ggml-fc";
  throw new FormatError(
    file,
    0,
    "tensors",
    `a supported model: ${SUPPORTED}`,
    `architecture '${arch ?? "(none)"}' with tensors ${
      w.names().slice(0, 8).join(", ") || "(none)"
    }`,
  );
}
