/**
 * `ggufc eval`: the same figures from the model file (each engine), from an emitted module, and
 * from a pool of workers.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { main } from "../main.ts";

/** Runs the CLI in-process and returns its exit code and stdout lines. */
async function cli(args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const { log } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  try {
    return { code: await main(args), out: out.join("\n").split("\n") };
  } finally {
    console.log = log;
  }
}

const model = new URL("../models/mnist-cnn-small.gguf", import.meta.url).pathname;

/** The eval figures without the timing line. */
function figures(out: string[]): string[] {
  return out.filter((l) => l.startsWith("test_"));
}

// The WASM paths run the default `--conv auto` module: int8 convs in the relaxed-SIMD variant
// (Deno), so their figures are the int8 ones; the TS engine computes in f32, as the interpreter.
const INT8_FIGURES = ["test_loss=0.043377+-0.006225", "test_acc=98.52+-0.12%"];
const F32_FIGURES = ["test_loss=0.043210+-0.006206", "test_acc=98.49+-0.12%"];

Deno.test("eval gives the same loss and accuracy on the WASM, pooled and emitted-module paths, and TS within 0.1 pp", async () => {
  const wasm = await cli(["eval", model]);
  assertEquals(wasm.code, 0);
  assert(
    /^model evaluation on 10000 images took [0-9.]+ ms, [0-9.]+ us\/image$/.test(wasm.out[0]!),
  );
  assertEquals(figures(wasm.out), INT8_FIGURES);

  const pooled = await cli(["eval", model, "--workers", "2"]);
  assertEquals(figures(pooled.out), figures(wasm.out));

  const dir = await Deno.makeTempDir();
  try {
    assertEquals((await cli(["compile", model, "-o", `${dir}/m.ts`, "--js"])).code, 0);
    const mod = await cli(["eval", "--module", `${dir}/m.js`, "--json"]);
    const json = JSON.parse(mod.out[0]!);
    assertEquals(json.images, 10000);
    assertEquals(json.accuracy, 0.9852);
    assert(Math.abs(json.loss - 0.043377) < 1e-6, `loss ${json.loss}`);
    const ts = await cli(["eval", model, "--engine", "ts", "--predictions", `${dir}/p.tsv`]);
    // The accuracy rule of int8 convs: within 0.1 percentage point of f32 (98.52 vs 98.49).
    assertEquals(figures(ts.out), F32_FIGURES);
    const tsv = (await Deno.readTextFile(`${dir}/p.tsv`)).trimEnd().split("\n");
    assertEquals(tsv.length, 10001);
    assertEquals(tsv[0], "index\tlabel\tpredicted");
    assert(/^0\t7\t\d$/.test(tsv[1]!), tsv[1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval, run and start refuse bad worker counts, engines and files with one usage line", async () => {
  const errors: string[] = [];
  const { error } = console;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    for (
      const [args, text] of [
        [["eval", model, "--workers", "0"], "--workers must be an integer from 1 to 64"],
        [["eval", model, "--workers", "2", "--engine", "ts"], "does not go with --engine ts"],
        [["eval", "--module", "nowhere.js"], "module 'nowhere.js' does not exist"],
        [["eval", model, "--module", "m.js"], "give either MODEL or --module"],
        // run: FILEs after --module are files for a file-type module to classify.
        [["run", model, "--module", "m.js"], "module 'm.js' does not exist"],
        [["run", model, "--index", "10000"], "--index must be an integer from 0 to 9999"],
        [["start", "missing.gguf"], "model 'missing.gguf' does not exist"],
        [["start", model, "--target", "c"], "--target must be one of wasm, ts"],
      ] as const
    ) {
      errors.length = 0;
      assertEquals(await main([...args]), 2, args.join(" "));
      assertEquals(errors.length, 1, errors.join("\n"));
      assert(errors[0]!.startsWith(`ggufc ${args[0]}: `) && errors[0]!.includes(text), errors[0]);
    }
  } finally {
    console.error = error;
  }
});
