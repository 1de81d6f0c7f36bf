/**
 * The CLI on a Magika model (a GGUF written here with zero weights): `info`, `graph`, `compile`
 * and `run` on every engine and on the compiled module (`run --module M FILE...`) work; `start` (MNIST digits) stops with one line; the MNIST options
 * are refused on a Magika model, and the Magika options on an MNIST model, in one line each.
 *
 * With ../shared/fixtures/magika: `run` and `eval` on real files against ggml's results
 * (tests/magika_cli_files_test.ts).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { runMain } from "./helpers/cli.ts";
import { EXIT_USAGE_ERROR } from "../ggml/errors.ts";
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

      const info = await runMain(["info", model]);
      assertEquals(info.code, 0, info.err);
      assert(info.out.includes("dense/kernel:0"), info.out);

      const dot = await runMain(["graph", model, "-o", `${dir}/m.dot`, "--stage", "source"]);
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
        const r = await runMain(args);
        assertEquals(r.code, 0, `${args[0]}: ${r.err}`);
      }

      // Zero weights: every logit is 0, so every label gets 1/113 and the ties keep label
      // order (ai, apk, appleplist, asm, asp), on every engine.
      const pct = (100 / 113).toFixed(2);
      for (const engine of ["wasm", "ts", "interpreter"]) {
        const run = await runMain(["run", model, model, "--engine", engine]);
        assertEquals(run.code, 0, run.err);
        assertEquals(
          run.out,
          `${model.padEnd(30)}: ai (${pct}%) apk (${pct}%) appleplist (${pct}%) asm (${pct}%) ` +
            `asp (${pct}%)`,
          engine,
        );
      }

      // The module `compile` wrote (m.ts), given as --module: the same line.
      const viaModule = await runMain(["run", "--module", `${dir}/m.ts`, model]);
      assertEquals(viaModule.code, 0, viaModule.err);
      assertEquals(
        viaModule.out,
        `${model.padEnd(30)}: ai (${pct}%) apk (${pct}%) appleplist (${pct}%) asm (${pct}%) ` +
          `asp (${pct}%)`,
      );
      const digits = await runMain(["compile", "models/mnist-cnn-small.gguf", "-o", `${dir}/d.ts`]);
      assertEquals(digits.code, 0, digits.err);

      const start = await runMain(["start", model]);
      assertEquals(start.code, EXIT_USAGE_ERROR, start.err);
      assert(start.err.includes("start evaluates MNIST digits; this model classifies files"));

      const wrongOptions: [string[], string][] = [
        [["run", model, "--engine", "interpreter"], "magika classifies files: give one or more"],
        [["run", model, model, "--index", "3"], "--index applies to MNIST models, not to magika"],
        [["run", model, model, "--workers", "2"], "--workers applies to MNIST models"],
        [["run", model, model, "--engine", "gpu"], "--engine must be one of wasm, ts, interpreter"],
        [["eval", model, "--engine", "interpreter"], "eval on magika needs --files DIR --expect"],
        [["eval", model, "--files", dir, "--images", model], "--images applies to MNIST models"],
        [["eval", "models/mnist-fc.gguf", "--files", dir], "--files applies to file-type models"],
        [["run", "models/mnist-fc.gguf", "--json"], "--json applies to file-type models"],
        [["run", "--module", `${dir}/m.ts`], "(magika) classifies files, not images: 'ggufc run"],
        [["run", "--module", `${dir}/m.ts`, model, "--index", "3"], "--index applies to MNIST"],
        [
          ["run", "--module", `${dir}/m.ts`, model, "--engine", "ts"],
          "--engine applies to a MODEL",
        ],
        [["run", "--module", `${dir}/d.ts`, model], "(mnist-cnn) classifies images, not files"],
      ];
      for (const [args, message] of wrongOptions) {
        const r = await runMain(args);
        assertEquals(r.code, EXIT_USAGE_ERROR, `${args.join(" ")}: ${r.err}`);
        assertEquals(r.err.split("\n").length, 1, r.err);
        assert(r.err.startsWith(`ggufc ${args[0]}: `) && r.err.includes(message), r.err);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
