/**
 * Model strings are attacker-controlled: `general.name` is free text and tensor names are
 * arbitrary. Compiled modules must carry them only as string literals, so the module still
 * type-checks, runs, exposes the name unchanged, and runs no code from it. Also: the emitted
 * module rejects wrong input with a clear error instead of a silent wrong answer.
 */
import assert from "node:assert/strict";
import { gguf, writeGguf } from "../ggml/gguf_writer.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { quantize } from "../ggml/quant.ts";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { type EmittedModule, loadEmittedModule } from "../compiler/emit/load.ts";
import { fcWeights, ggmlCnnWeights, type TestWeight } from "../testkit/models.ts";

/** Names that break out of a string, template, comment, line or script tag if not escaped. */
const HOSTILE_NAMES = [
  `quote" + (globalThis.__pwned = "dq") + "`,
  `quote' + (globalThis.__pwned = 'sq') + '`,
  "backtick` + (globalThis.__pwned = `bt`) + `",
  "${globalThis.__pwned = 'template'}",
  "*/ globalThis.__pwned = 'comment'; /*",
  "// line comment\nglobalThis.__pwned = 'newline';",
  "carriage\r\nglobalThis.__pwned = 'crlf';",
  "</script><script>globalThis.__pwned = 'script'</script><!--",
  "sep\u2028globalThis.__pwned = 'u2028';\u2029",
  "back\\slash \\u0041 \\x41 \\",
  "nul\u0000 tab\t bell\u0007",
  "n\u00e4me \u6570\u5b57 \u{1f600} \u05e9\u05dc\u05d5\u05dd",
];

const dir = Deno.makeTempDirSync({ prefix: "ggufc-injection-" });

/** A GGUF of `arch` with `weights`, a hostile name and an extra tensor with a hostile name. */
function hostileModel(arch: string, weights: TestWeight[], name: string): Uint8Array {
  return writeGguf({
    metadata: [["general.architecture", gguf.string(arch)], ["general.name", gguf.string(name)]],
    tensors: [
      ...weights.map((t) => ({
        name: t.name,
        ne: t.ne,
        type: t.type,
        data: quantize(t.type, t.values),
      })),
      // Unused by the graph; must not reach the module at all (GGUF names are at most 63 bytes).
      { name: "x*/`${'</script>", ne: [1], type: GgmlType.F32, data: new Uint8Array(4) },
    ],
  });
}

const IMAGE = Uint8Array.from({ length: 784 }, (_, i) => (i * 7) % 256);

async function checkModule(m: EmittedModule, name: string): Promise<void> {
  assert.equal(m.info.name, name);
  const { digit, probabilities } = m.predict(IMAGE);
  assert.ok(digit >= 0 && digit < 10);
  const sum = probabilities.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
  assert.equal((globalThis as { __pwned?: string }).__pwned, undefined, "no code ran from a name");
  await Promise.resolve();
}

/** Runs `deno check` on `files`; returns its stderr when it fails. */
async function denoCheck(files: string[]): Promise<string | undefined> {
  const check = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...files],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return check.code === 0 ? undefined : new TextDecoder().decode(check.stderr);
}

Deno.test("hostile model names compile to modules that run and keep the name; ts-target modules type-check", async () => {
  const files: string[] = [];
  for (const [i, name] of HOSTILE_NAMES.entries()) {
    const target = i % 2 === 0 ? "ts" : "wasm";
    const model = i % 3 === 0
      ? hostileModel("mnist-cnn", ggmlCnnWeights(i, { c1: 2, c2: 2 }), name)
      : hostileModel("mnist-fc", fcWeights(i, 2), name);
    const { source } = compileFile(model, `hostile-${i}.gguf`, { target });
    assert.ok(!source.includes("x*/`${'</script>"), "unused tensor names stay out of the module");
    assert.ok(!source.includes("</script>"), "no raw </script> in the module");
    assert.ok(!/[\u2028\u2029]/.test(source), "no raw U+2028/U+2029 in the module");
    const file = `${dir}/hostile-${i}.ts`;
    Deno.writeTextFileSync(file, source);
    if (target === "ts") files.push(file);
    await checkModule(await loadEmittedModule(file), name);
  }
  assert.equal(await denoCheck(files), undefined);
});

Deno.test({
  name: "a wasm-target module with a hostile name type-checks under deno check",
  fn: async () => {
    const model = hostileModel("mnist-fc", fcWeights(9, 2), HOSTILE_NAMES.join(""));
    const file = `${dir}/hostile-wasm-check.ts`;
    Deno.writeTextFileSync(file, compileFile(model, "h.gguf", { target: "wasm" }).source);
    assert.equal(await denoCheck([file]), undefined);
  },
});

Deno.test("a hostile model name survives the --js bundle (esbuild) unchanged and inert", async () => {
  const name = HOSTILE_NAMES.join(" | ");
  const { source } = compileFile(hostileModel("mnist-fc", fcWeights(3, 2), name), "h.gguf");
  const js = await bundleJs(source);
  assert.ok(!js.includes("</script"), "no raw </script in the bundle");
  assert.ok(!/[\u2028\u2029]/.test(js), "no raw U+2028/U+2029 in the bundle");
  const file = `${dir}/hostile-bundle.js`;
  Deno.writeTextFileSync(file, js);
  await checkModule(await loadEmittedModule(file), name);
});

Deno.test("an emitted module rejects a wrong length, a wrong type, NaN and out-of-range pixels", async () => {
  const { source } = compileFile(hostileModel("mnist-fc", fcWeights(5, 2), "plain"), "plain.gguf", {
    target: "ts",
  });
  const file = `${dir}/plain.ts`;
  Deno.writeTextFileSync(file, source);
  const m = await loadEmittedModule(file);
  const bad = (fn: () => unknown, type: ErrorConstructor, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof type && pattern.test((e as Error).message));
  bad(() => m.predict(new Uint8Array(783)), RangeError, /predict: expected 784 values .*got 783/);
  bad(() => m.predict(new Uint8Array(785)), RangeError, /expected 784 values/);
  bad(
    () => m.predict([...IMAGE] as unknown as Uint8Array),
    TypeError,
    /Uint8Array or Float32Array.*Array/,
  );
  bad(() => m.predict(new Float64Array(784) as unknown as Float32Array), TypeError, /Float64Array/);
  bad(() => m.predict(null as unknown as Uint8Array), TypeError, /got null/);
  const withNaN = new Float32Array(784);
  withNaN[100] = NaN;
  bad(() => m.predict(withNaN), RangeError, /value NaN at index 100/);
  const neg = new Float32Array(784);
  neg[5] = -1;
  bad(() => m.predict(neg), RangeError, /value -1 at index 5/);
  const big = new Float32Array(784);
  big[6] = 256;
  bad(() => m.predict(big), RangeError, /value 256 at index 6/);
  bad(() => m.predictBatch(new Uint8Array(784 * 2), 3), RangeError, /expected 2352 values/);
  bad(() => m.predictBatch(new Uint8Array(784), 1.5), RangeError, /non-negative integer, got 1.5/);
  bad(() => m.predictBatch(new Uint8Array(0), -1), RangeError, /non-negative integer, got -1/);
  // Valid input still works after the rejections.
  assert.equal(m.predictBatch(new Uint8Array(784 * 2), 2).digits.length, 2);
});

Deno.test({
  name: "injection_test cleans up its temporary folder",
  fn: () => Deno.removeSync(dir, { recursive: true }),
});
