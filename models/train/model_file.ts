/**
 * One call from a training configuration to the bytes of a model file: train, lay the weights
 * out, score exactly what the file holds (F16 kernels rounded) on the test set, and write the
 * GGUF with the training facts in its metadata. No timestamps or machine facts go into the file,
 * so the same configuration gives the same bytes.
 *
 * @module
 */
import { GgmlType } from "../../ggml/ggml_types.ts";
import { type GgufValue } from "../../ggml/gguf_reader.ts";
import { gguf, writeGguf } from "../../ggml/gguf_writer.ts";
import { writeLegacyGgml } from "../../ggml/legacy.ts";
import { f32ToF16Bytes, quantize } from "../../ggml/quant.ts";
import type { Digits } from "./data.ts";
import {
  type FileTensor,
  ggufArchitecture,
  type Layout,
  layoutTensors,
  legacyFcTensors,
  paramsFromTensors,
} from "./export.ts";
import type { ProgressSink } from "./progress.ts";
import { type Score, scoreParams, train, type TrainConfig, type TrainResult } from "./trainer.ts";

/** A training run that ends in a file. */
export interface ModelFileConfig extends TrainConfig {
  readonly layout: Layout;
}

/** What {@link trainModelFile} produces. */
export interface ModelFile {
  readonly gguf: Uint8Array;
  /** the legacy `ggml`-magic file (fc only; fed raw 0..255 pixels) */
  readonly legacy: Uint8Array | undefined;
  readonly tensors: FileTensor[];
  readonly result: TrainResult;
  /** test score of the weights as stored, or undefined without a test set */
  readonly test: Score | undefined;
}

/** @returns the `ggufc.train.*` and `general.*` metadata of a run */
export function trainMetadata(
  cfg: ModelFileConfig,
  images: number,
  test: Score | undefined,
): [string, GgufValue][] {
  const meta: [string, GgufValue][] = [
    ["general.architecture", gguf.string(ggufArchitecture(cfg.arch))],
    ["general.name", gguf.string(`mnist-${cfg.arch}`)],
    ["ggufc.train.arch", gguf.string(cfg.arch)],
    ["ggufc.train.layout", gguf.string(cfg.layout)],
    ["ggufc.train.epochs", gguf.uint32(cfg.epochs)],
    ["ggufc.train.batch", gguf.uint32(cfg.batch)],
    ["ggufc.train.lr", gguf.float32(cfg.lr)],
    ["ggufc.train.lr_decay", gguf.float32(cfg.lrDecay)],
    ["ggufc.train.seed", gguf.uint32(cfg.seed >>> 0)],
    ["ggufc.train.images", gguf.uint32(images)],
    ["ggufc.train.input_scale", gguf.float32(1 / 255)],
  ];
  // Only when used, so files trained without augmentation keep their bytes.
  if ((cfg.shift ?? 0) > 0) meta.push(["ggufc.train.shift", gguf.uint32(cfg.shift!)]);
  if (test) {
    meta.push(["ggufc.train.test_accuracy", gguf.float32(test.accuracy)]);
    meta.push(["ggufc.train.test_loss", gguf.float32(test.loss)]);
  }
  return meta;
}

/**
 * Trains and builds the model file.
 *
 * @param cfg configuration (arch, layout, epochs, batch, lr, seed ...)
 * @param data training digits
 * @param testSet test digits to score the stored weights on (optional)
 * @param sink progress output
 * @returns the file bytes and the figures
 * @example
 * ```ts ignore
 * const m = await trainModelFile({ arch: "fc", layout: "ggml", epochs: 1, batch: 64, lr: 1e-3,
 *   lrDecay: 1, seed: 1 }, loadDigits("train"), loadDigits("test"), stderrSink());
 * await Deno.writeFile("fc.gguf", m.gguf);
 * ```
 */
export async function trainModelFile(
  cfg: ModelFileConfig,
  data: Digits,
  testSet: Digits | undefined,
  sink?: ProgressSink,
): Promise<ModelFile> {
  const result = await train(cfg, data, sink);
  const tensors = layoutTensors(cfg.arch, cfg.layout, result.params);
  let test: Score | undefined;
  if (testSet) {
    const stored = paramsFromTensors(
      cfg.arch,
      cfg.layout,
      new Map(tensors.map((t) => [t.name, t.values])),
    );
    test = await scoreParams(cfg.arch, stored, testSet, cfg.threads);
  }
  const bytes = writeGguf({
    metadata: trainMetadata(cfg, data.count, test),
    tensors: tensors.map((t) => ({
      name: t.name,
      ne: t.ne,
      type: t.type,
      data: t.type === GgmlType.F16 ? f32ToF16Bytes(t.values) : quantize(GgmlType.F32, t.values),
    })),
  });
  const legacy = cfg.arch === "fc" ? writeLegacyGgml(legacyFcTensors(tensors)) : undefined;
  return { gguf: bytes, legacy, tensors, result, test };
}
