/**
 * The CLI on a Magika model (a GGUF written here with random weights): `info` and
 * `graph --stage source` work; the commands that cannot yet take a byte-token model (compile,
 * start, run, eval, graph past the source stage, export) stop with one line naming the model's
 * architecture, never a stack trace and never a result computed from MNIST pixels.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { main } from "../main.ts";
import { EXIT_FORMAT_ERROR, EXIT_USAGE_ERROR } from "../ggml/errors.ts";
import { MAGIKA_TENSORS } from "../compiler/frontend/magika_graph.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { ggufOf } from "../testkit/models.ts";

/** A Magika GGUF with the right tensor shapes and zero weights. */
function zeroMagika(): Uint8Array {
  const ne: Record<string, number[]> = {
    "dense/kernel:0": [257, 128],
    "dense/bias:0": [128],
    "layer_normalization/gamma:0": [384],
    "layer_normalization/beta:0": [384],
    "dense_1/kernel:0": [512, 256],
    "dense_1/bias:0": [256],
    "dense_2/kernel:0": [256, 256],
    "dense_2/bias:0": [256],
    "layer_normalization_1/gamma:0": [256],
    "layer_normalization_1/beta:0": [256],
    "target_label/kernel:0": [256, 113],
    "target_label/bias:0": [113],
  };
  return ggufOf(
    "magika",
    MAGIKA_TENSORS.map((name) => ({
      name,
      ne: ne[name]!,
      type: GgmlType.F32,
      values: new Float32Array(ne[name]!.reduce((a, b) => a * b)),
    })),
    "magika-zero",
  );
}

/** Runs main() and returns its exit code and what it printed. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test({
  name:
    "ggufc on a Magika model: info and graph --stage source work, other commands stop in one line",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ggufc_magika_" });
    try {
      const model = `${dir}/magika.gguf`;
      await Deno.writeFile(model, zeroMagika());

      const info = await cli(["info", model]);
      assertEquals(info.code, 0, info.err);
      assert(info.out.includes("dense/kernel:0"), info.out);

      const dot = await cli(["graph", model, "-o", `${dir}/m.dot`, "--stage", "source"]);
      assertEquals(dot.code, 0, dot.err);
      const text = await Deno.readTextFile(`${dir}/m.dot`);
      for (
        const label of [
          "one_hot depth 257",
          "norm ε 0.001",
          "pool_1d max k384 s384 p0",
          "transpose",
        ]
      ) {
        assert(text.includes(label), `the DOT lacks '${label}'`);
      }

      for (
        const args of [["compile", model, "-o", `${dir}/m.ts`], [
          "graph",
          model,
          "-o",
          `${dir}/m.svg`,
        ]]
      ) {
        const r = await cli(args);
        assertEquals(r.code, 0, `${args[0]}: ${r.err}`);
      }

      const refused: [string[], number, string][] = [
        [["run", model], EXIT_USAGE_ERROR, "by run and eval"],
        [["run", model, "--engine", "interpreter"], EXIT_USAGE_ERROR, "by run and eval"],
        [["eval", model, "--engine", "interpreter"], EXIT_USAGE_ERROR, "by run and eval"],
        [["eval", model, "--workers", "2"], EXIT_USAGE_ERROR, "by run and eval"],
        [["export", model, "--onnx", "-o", `${dir}/m.onnx`], EXIT_FORMAT_ERROR, "by export"],
      ];
      for (const [args, code, by] of refused) {
        const r = await cli(args);
        assertEquals(r.code, code, `${args[0]}: ${r.err}`);
        assertEquals(r.err.split("\n").length, 1, r.err);
        assert(
          r.err.startsWith(`ggufc ${args[0]}: `) &&
            r.err.includes("magika: models with byte-tokens input are not supported yet " + by),
          r.err,
        );
        assert(!r.out.includes("predicted"), `${args[0]} printed a prediction: ${r.out}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
