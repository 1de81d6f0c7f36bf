/**
 * `ggufc train ARCH -o OUT.gguf`: trains one of the MNIST nets from a seed and writes it as GGUF
 * (see models/train/ and models/README.md).
 *
 * @module
 */
import {
  checkOutputPath,
  choiceOption,
  type Command,
  intOption,
  numberOption,
  parseCommandArgs,
  writeOutputFile,
} from "./command.ts";
import { UsageError } from "../ggml/errors.ts";
import { type Arch, ARCHS } from "../models/train/layers.ts";
import { defaultLayout, LAYOUTS } from "../models/train/export.ts";
import { type Digits, loadDigits } from "../models/train/data.ts";
import { trainModelFile } from "../models/train/model_file.ts";
import { formatDuration, stderrSink } from "../models/train/progress.ts";

/** Defaults per architecture (the shipped models use them; see models/README.md). */
export const TRAIN_DEFAULTS: Readonly<
  Record<Arch, { epochs: number; batch: number; lr: number; lrDecay: number }>
> = {
  "fc": { epochs: 8, batch: 64, lr: 1e-3, lrDecay: 0.7 },
  "cnn": { epochs: 6, batch: 64, lr: 1e-3, lrDecay: 0.7 },
  "cnn-small": { epochs: 8, batch: 64, lr: 2e-3, lrDecay: 0.7 },
};

const HELP = `usage: ggufc train ARCH -o OUT.gguf [options]

Trains an MNIST net on the 60,000 training images (the last 5 % held out for validation),
reports the test accuracy of the weights as stored, and writes a GGUF file.

ARCH:
  fc          784 -> 500 (relu) -> 10 (the seed's FC net)
  cnn         the seed's CNN: conv 3x3x32, pool, conv 3x3x64, pool, dropout 0.5, dense 1600 -> 10
  cnn-small   ggml HEAD's CNN: conv 3x3x8 pad 1, pool, conv 3x3x16 pad 1, pool, dense 784 -> 10

options:
  -o, --output FILE    the GGUF file to write (required)
  --epochs N           passes over the training images (fc 8, cnn 6, cnn-small 8)
  --batch B            mini-batch size (64)
  --lr X               Adam learning rate of the first epoch (fc/cnn 0.001, cnn-small 0.002)
  --lr-decay F         learning-rate factor after each epoch (0.7)
  --seed S             seed of init, shuffling and dropout (1); same flags, same bytes
  --layout seed|ggml   tensor names/types: seed (cnn default: F16 kernels, pre-broadcast
                       biases) or ggml (fc, cnn-small default: ggml HEAD's names)
  --legacy FILE        fc only: also write the seed's legacy ggml file (fed raw 0..255 pixels)
  --shift N            augment: shift each training image by up to N pixels in x and y (0)
  --images N           train on the first N training images only (quick runs)
  --threads T          threads for the matrix products (1); any count gives the same bytes`;

/** The `train` command. */
export const trainCommand: Command = {
  name: "train",
  summary: "train an MNIST model (fc, cnn, cnn-small) and write it as GGUF",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs("train", args, {
      output: { type: "string", short: "o" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      "lr-decay": { type: "string" },
      seed: { type: "string" },
      layout: { type: "string" },
      legacy: { type: "string" },
      images: { type: "string" },
      threads: { type: "string" },
      shift: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(`train needs one ARCH (${ARCHS.join(", ")}), got ${positionals.length}`);
    }
    const arch = positionals[0] as Arch;
    if (!ARCHS.includes(arch)) {
      throw new UsageError(`ARCH must be one of ${ARCHS.join(", ")}, got '${positionals[0]}'`);
    }
    if (!values.output) throw new UsageError("train needs -o OUT.gguf");
    // Fail before a long run, not after it, when an output cannot be written.
    for (const out of [values.output, values.legacy]) {
      if (out !== undefined) await checkOutputPath(out);
    }
    const d = TRAIN_DEFAULTS[arch];
    const layout = choiceOption("layout", values.layout, LAYOUTS) ?? defaultLayout(arch);
    if (values.legacy !== undefined && arch !== "fc") {
      throw new UsageError(
        "--legacy is only for the fc net (the seed's legacy file is an FC model)",
      );
    }
    const cfg = {
      arch,
      layout,
      epochs: intOption("epochs", values.epochs, 1, 1000) ?? d.epochs,
      batch: intOption("batch", values.batch, 1, 4096) ?? d.batch,
      lr: numberOption("lr", values.lr, 1e-7, 1) ?? d.lr,
      lrDecay: numberOption("lr-decay", values["lr-decay"], 0.01, 1) ?? d.lrDecay,
      seed: intOption("seed", values.seed, 0, 0xffffffff) ?? 1,
      threads: intOption("threads", values.threads, 1, 64) ?? 1,
      shift: intOption("shift", values.shift, 0, 4) ?? 0,
    };
    let data: Digits = loadDigits("train");
    const images = intOption("images", values.images, 20, data.count);
    if (images !== undefined) {
      data = {
        count: images,
        pixels: data.pixels.subarray(0, images * 784),
        labels: data.labels.subarray(0, images),
      };
    }
    const sink = stderrSink();
    sink.write(
      `train ${arch} (${layout} layout): ${cfg.epochs} epochs, batch ${cfg.batch}, lr ${cfg.lr}` +
        ` (x${cfg.lrDecay}/epoch), seed ${cfg.seed}, ${data.count} images\n`,
    );
    const m = await trainModelFile(cfg, data, loadDigits("test"), sink);
    await writeOutputFile(values.output, m.gguf);
    if (values.legacy !== undefined && m.legacy) await writeOutputFile(values.legacy, m.legacy);
    const t = m.test!;
    console.log(
      `test accuracy ${(t.accuracy * 100).toFixed(2)}% (loss ${
        t.loss.toFixed(4)
      }) on 10000 images` +
        `; trained in ${formatDuration(m.result.seconds)} (${m.result.seconds.toFixed(1)} s)`,
    );
    console.log(
      `wrote ${values.output} (${m.gguf.length} bytes)` +
        (values.legacy !== undefined ? ` and ${values.legacy} (${m.legacy!.length} bytes)` : ""),
    );
  },
};
