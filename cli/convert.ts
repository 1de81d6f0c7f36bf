/**
 * `ggufc convert STATE_DICT -o OUT.gguf [--legacy OUT.bin] [--name NAME]`: the seed's PyTorch
 * FC model to an `mnist-fc` GGUF (and the seed's legacy ggml file), without Python.
 *
 * @module
 */
import { convertStateDict } from "../convert/state_dict.ts";
import { printable, UsageError } from "../ggml/errors.ts";
import { type Command, parseCommandArgs, readInputFile, writeOutputFile } from "./command.ts";
import { STATE_DICT_MAX_BYTES } from "./files.ts";

const help = `usage: ggufc convert STATE_DICT -o OUT.gguf [--legacy OUT.bin] [--name NAME]

Converts a PyTorch state dict (a torch.save zip file holding fc1.weight [H,784], fc1.bias,
fc2.weight [10,H], fc2.bias, e.g. the seed's mnist_model.state_dict) to a GGUF file in ggml's
mnist-fc layout. The pickle inside is read with an allow-list: no Python code runs.

options:
  -o, --output OUT.gguf   the GGUF file to write (required)
  --legacy OUT.bin        also write the seed's legacy 'ggml'-magic file, byte for byte as
                          convert-h5-to-ggml.py writes it (feed it raw 0..255 pixels)
  --name NAME             store NAME as general.name
  -h, --help              this text`;

/** The `convert` command. */
export const convertCommand: Command = {
  name: "convert",
  summary: "convert a PyTorch state dict (seed FC net) to mnist-fc GGUF / legacy ggml",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("convert", args, {
      output: { type: "string", short: "o" },
      legacy: { type: "string" },
      name: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `convert takes one STATE_DICT file, got ${positionals.length} (see 'ggufc convert --help')`,
      );
    }
    const input = positionals[0]!;
    if (values.output === undefined) {
      throw new UsageError("convert needs -o OUT.gguf (see 'ggufc convert --help')");
    }
    const bytes = await readInputFile(input, {
      what: "state dict",
      maxBytes: STATE_DICT_MAX_BYTES,
    });
    const name = input.split(/[\\/]/).pop() ?? input;
    const result = convertStateDict(
      bytes,
      name,
      values.name === undefined ? {} : { name: values.name },
    );
    await writeOutputFile(values.output, result.gguf, { inputs: [input] });
    const shapes = result.stateDict.tensors.map((t) => `${t.name} (${t.shape.join("x")})`);
    console.log(printable(`${input}: ${shapes.join(", ")}`));
    console.log(`wrote ${values.output} (mnist-fc GGUF, ${result.gguf.length} bytes)`);
    if (values.legacy !== undefined) {
      await writeOutputFile(values.legacy, result.legacy, { inputs: [input] });
      console.log(`wrote ${values.legacy} (legacy ggml, ${result.legacy.length} bytes)`);
    }
  },
};
