/**
 * `ggufc compile` from the command line: writes the module (and the .js), prints the plan and
 * the summary, and turns user mistakes into one-line errors with the usage exit code.
 */
import assert from "node:assert/strict";
import { main } from "../main.ts";
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
  name: "ggufc compile writes OUT.ts and OUT.js and prints the plan and the summary",
  ignore: !haveFixture,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ggufc_cli_" });
    try {
      const r = await cli(["compile", FIXTURE.pathname, "-o", `${dir}/fc.ts`, "--js", "--plan"]);
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
    const r = await cli([...args]);
    assert.equal(r.code, EXIT_USAGE_ERROR, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
    assert.equal(r.err.split("\n").length, 1);
  }
});
