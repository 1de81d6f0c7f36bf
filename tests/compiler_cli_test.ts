/**
 * `ggufc compile` from the command line: writes the module (and the .js), prints the plan and
 * the summary, and turns user mistakes into one-line errors with the usage exit code.
 */
import assert from "node:assert/strict";
import { runMain } from "./helpers/cli.ts";
import { loadEmittedModule } from "../compiler/emit/load.ts";
import { EXIT_USAGE_ERROR } from "../ggml/errors.ts";

const FIXTURE = new URL("../../shared/fixtures/ggml-model-f32.bin", import.meta.url);
let haveFixture = true;
try {
  Deno.statSync(FIXTURE);
} catch {
  haveFixture = false;
  console.log(
    "note: ../shared/fixtures absent; the compile CLI test on the seed FC file is skipped",
  );
}

Deno.test({
  name: "ggufc compile writes OUT.ts and OUT.js and prints the plan and the summary",
  ignore: !haveFixture,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ggufc_cli_" });
    try {
      const r = await runMain([
        "compile",
        FIXTURE.pathname,
        "-o",
        `${dir}/fc.ts`,
        "--js",
        "--plan",
      ]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /dense 784 -> 500 \+ bias \+ relu/);
      assert.match(r.out, /arena \d+ bytes \(naive \d+, lower bound \d+\)/);
      // Every graph pass of the pipeline is listed (one-hot-gather and fold-table change nothing here).
      assert.match(
        r.out,
        /passes: fold-scale, one-hot-gather, fold-table, collapse-bias, fold-views, prune/,
      );
      assert.match(r.out, /module \d+ bytes/);
      const m = await loadEmittedModule(`${dir}/fc.js`);
      assert.equal(m.info.layout, "seed-fc");
      assert.ok((await Deno.stat(`${dir}/fc.ts`)).size > 1_000_000);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("ggufc compile reports a missing -o, a bad target and a missing file as one-line usage errors", async () => {
  const model = haveFixture ? FIXTURE.pathname : "models/none.gguf";
  for (
    const [args, message] of [
      [["compile", model], /needs -o OUT.ts/],
      [["compile", model, "-o", "x.ts", "--target", "gpu"], /--target must be one of wasm, ts/],
      [["compile", model, "-o", "x.txt"], /\.ts, \.js or \.mjs/],
      [["compile", "no/such/model.gguf", "-o", "x.ts"], /does not exist/],
      [["compile", "-o", "x.ts"], /one MODEL file/],
    ] as const
  ) {
    const r = await runMain([...args]);
    assert.equal(r.code, EXIT_USAGE_ERROR, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
    assert.equal(r.err.split("\n").length, 1);
  }
});

Deno.test({
  name:
    "ggufc compile --split writes OUT.js and OUT.wasm; it refuses --target ts and --weights f16",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ggufc_cli_split_" });
    try {
      const model = "models/mnist-cnn-small.gguf";
      const r = await runMain(["compile", model, "-o", `${dir}/digits.js`, "--split"]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /weights file \d+ bytes/);
      assert.match(r.out, /wrote .*digits\.js, .*digits\.wasm/);
      const m = await loadEmittedModule(`${dir}/digits.js`);
      assert.equal(m.info.options.split, true);
      assert.equal(m.predict(new Uint8Array(784)).probabilities.length, 10);
      for (
        const [flags, message] of [
          [["--target", "ts"], /--split keeps the weights in a WASM file: it needs --target wasm/],
          [["--weights", "f16"], /--weights f16 is for single-file modules/],
        ] as const
      ) {
        const bad = await runMain(["compile", model, "-o", `${dir}/bad.js`, "--split", ...flags]);
        assert.equal(bad.code, EXIT_USAGE_ERROR, bad.err);
        assert.match(bad.err, message);
        assert.doesNotMatch(bad.err, /\n\s+at /, "no stack trace");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
