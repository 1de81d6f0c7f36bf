/**
 * `ggufc convert MODEL -o OUT.gguf [--legacy OUT.bin] [--name NAME]`: a model made by another
 * tool to GGUF, without Python. The input's kind is read from its content: a PyTorch state dict
 * (zip) of the seed's FC net becomes an `mnist-fc` GGUF (and the seed's legacy ggml file); a
 * Keras HDF5 model of Magika standard_v1 becomes the GGUF ggml's `examples/magika` runs.
 *
 * @module
 */
import { findHdf5Signature } from "../convert/keras_h5.ts";
import { convertKerasModel } from "../convert/keras_magika.ts";
import { convertStateDict } from "../convert/state_dict.ts";
import { FormatError, printable, UsageError } from "../ggml/errors.ts";
import { type Command, parseCommandArgs, readInputFile, writeOutputFile } from "./command.ts";
import { STATE_DICT_MAX_BYTES } from "./files.ts";

const help = `usage: ggufc convert MODEL -o OUT.gguf [--legacy OUT.bin] [--name NAME]

Converts a model made by another tool to GGUF; the kind of MODEL is read from its content:
  - a PyTorch state dict (a torch.save zip file holding fc1.weight [H,784], fc1.bias,
    fc2.weight [10,H], fc2.bias, e.g. the seed's mnist_model.state_dict) -> a GGUF file in
    ggml's mnist-fc layout. The pickle inside is read with an allow-list: no Python code runs.
  - a Keras HDF5 model (model.save("model.h5")) of Google's Magika standard_v1 file-type
    detector -> the GGUF ggml's examples/magika/convert.py writes, byte for byte (read with
    h5wasm, the HDF5 library in WASM). Other Keras architectures are refused.

options:
  -o, --output OUT.gguf   the GGUF file to write (required)
  --legacy OUT.bin        (state dict only) also write the seed's legacy 'ggml'-magic file,
                          byte for byte as convert-h5-to-ggml.py writes it (feed it raw 0..255
                          pixels)
  --name NAME             store NAME as general.name
  -h, --help              this text`;

/** What a model file is, by its first bytes. */
type InputKind = "state dict" | "keras";

/**
 * A zip (`PK`) or a bare pickle (0x80: torch < 1.6, which the state dict reader names) is a
 * state dict; an HDF5 signature at 0, 512, 1024, ... is a Keras model.
 */
function inputKind(bytes: Uint8Array, file: string): InputKind {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return "state dict";
  if (bytes[0] === 0x80) return "state dict";
  if (findHdf5Signature(bytes) >= 0) return "keras";
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new FormatError(
    file,
    0,
    "magic",
    "a torch.save zip archive (PK) or a Keras HDF5 model (\\x89HDF\\r\\n\\x1a\\n at byte 0, 512, " +
      "1024, ...)",
    bytes.length === 0 ? "an empty file" : `bytes ${head}`,
  );
}

/** The `convert` command. */
export const convertCommand: Command = {
  name: "convert",
  summary: "convert a PyTorch state dict (seed FC net) or a Keras model (Magika) to GGUF",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("convert", args, {
      output: { type: "string", short: "o" },
      legacy: { type: "string" },
      name: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `convert takes one MODEL file, got ${positionals.length} (see 'ggufc convert --help')`,
      );
    }
    const input = positionals[0]!;
    if (values.output === undefined) {
      throw new UsageError("convert needs -o OUT.gguf (see 'ggufc convert --help')");
    }
    const bytes = await readInputFile(input, {
      what: "model",
      maxBytes: STATE_DICT_MAX_BYTES,
    });
    const name = input.split(/[\\/]/).pop() ?? input;
    const opts = values.name === undefined ? {} : { name: values.name };
    if (inputKind(bytes, name) === "keras") {
      if (values.legacy !== undefined) {
        throw new UsageError(
          `--legacy writes the seed's MNIST file from a PyTorch state dict; ${input} is a Keras model`,
        );
      }
      const result = await convertKerasModel(bytes, name, opts);
      console.log(
        printable(
          `${input}: Keras model, ${result.architecture}, ${result.tensors.length} tensors`,
        ),
      );
      await writeOutputFile(values.output, result.gguf, { inputs: [input] });
      console.log(`wrote ${values.output} (magika GGUF, ${result.gguf.length} bytes)`);
      return;
    }
    const result = convertStateDict(bytes, name, opts);
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
