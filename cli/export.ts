/**
 * `ggufc export MODEL --onnx -o OUT.onnx [--check N]`: a model as an ONNX file, so
 * onnxruntime and other ONNX tools run the same computation.
 *
 * @module
 */
import { loadModel } from "../compiler/frontend/mod.ts";
import {
  exportOnnx,
  ONNX_INPUT_NAME,
  ONNX_OPSET,
  ONNX_OUTPUT_NAME,
  ONNX_TOKENS_INPUT_NAME,
} from "../export/onnx.ts";
import { inputKind } from "../compiler/ir/graph.ts";
import { printable, UsageError } from "../ggml/errors.ts";
import {
  checkOutputPath,
  type Command,
  intOption,
  MODEL_FILE,
  parseCommandArgs,
  readInputFile,
  writeOutputFile,
} from "./command.ts";

const help = `usage: ggufc export MODEL --onnx -o OUT.onnx [--check N]

Writes MODEL (a GGUF file of a supported layout, or the seed's legacy ggml FC file) as an ONNX
model (IR version 8, opset ${ONNX_OPSET}): the same graph the compiler and the interpreter run,
weights as float32 initializers (quantised weights are stored dequantised).

MNIST models:
  input  '${ONNX_INPUT_NAME}': raw pixels 0..255 as float32, [N, 1, 28, 28] (CNN) or [N, 784] (FC)
  output '${ONNX_OUTPUT_NAME}': [N, 10]
Magika (byte-token input; the embedding is a Gather, gelu its tanh form as ggml's):
  input  '${ONNX_TOKENS_INPUT_NAME}': int64 [N, 1536], values 0..256 (a file's beg/mid/end bytes,
         256 = padding, as ggml's examples/magika reads them)
  output '${ONNX_OUTPUT_NAME}': [N, 113]

options:
  --onnx                  write ONNX (the only export format so far; required)
  -o, --output OUT.onnx   the file to write (required)
  --check N               (MNIST) run the exported model in onnxruntime-web on the first N
                          MNIST test images and compare its digits with the reference
                          interpreter
  -h, --help              this text`;

/** The `export` command. */
export const exportCommand: Command = {
  name: "export",
  summary: "export a model as ONNX (for onnxruntime and other ONNX tools)",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("export", args, {
      onnx: { type: "boolean" },
      output: { type: "string", short: "o" },
      check: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `export takes one MODEL file, got ${positionals.length} (see 'ggufc export --help')`,
      );
    }
    if (!values.onnx) {
      throw new UsageError("export needs a format: --onnx (see 'ggufc export --help')");
    }
    if (values.output === undefined) {
      throw new UsageError("export needs -o OUT.onnx (see 'ggufc export --help')");
    }
    const check = intOption("check", values.check, 1, 10000);
    const input = positionals[0]!;
    const inputs = [input];
    await checkOutputPath(values.output, { inputs });
    const bytes = await readInputFile(input, MODEL_FILE);
    const { graph, layout } = loadModel(bytes, input);
    if (check !== undefined && inputKind(graph) !== "pixels") {
      throw new UsageError(`--check runs MNIST images; it does not apply to ${graph.meta.arch}`);
    }
    const onnx = exportOnnx(graph);
    await writeOutputFile(values.output, onnx.bytes, { inputs });
    console.log(
      printable(
        `wrote ${values.output} (ONNX, ${onnx.bytes.length} bytes, ${onnx.nodeCount} nodes, ` +
          `${onnx.initializerCount} initializers; layout ${layout}; ` +
          `input '${onnx.inputName}' ${onnx.inputType} [${
            onnx.inputShape.join(", ").replace("-1", "N")
          }])`,
      ),
    );
    if (check !== undefined) {
      // Loaded only when asked: onnxruntime-web is a benchmark dependency.
      const { createPeers } = await import("../peers/mod.ts");
      const [peer] = await createPeers(graph, ["ort-web"], { verify: check });
      await peer!.dispose();
      console.log(
        `checked: onnxruntime-web gives the interpreter's digits on ${check} test images`,
      );
    }
  },
};
