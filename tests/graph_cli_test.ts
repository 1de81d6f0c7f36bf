/**
 * Tests of `ggufc graph`: formats from the extension, stages, and one-line errors for mistakes.
 */
import assert from "node:assert/strict";
import { formatOf, graphCommand } from "../cli/graph.ts";
import { UsageError } from "../ggml/errors.ts";
import { randomModels } from "../testkit/models.ts";

const FIXTURE = new URL("../../shared/fixtures/ggml-mnist-fc-f32.gguf", import.meta.url);
const hasFixture = await Deno.stat(FIXTURE).then(() => true, () => false);
if (!hasFixture) console.log("graph_cli_test: ../shared/fixtures absent, fixture test skipped");

async function withModel(fn: (dir: string, model: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ggufc-graph-" });
  try {
    const model = `${dir}/ggml-cnn.gguf`;
    await Deno.writeFile(model, randomModels(3)["ggml-cnn"]);
    await fn(dir, model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("formatOf() takes the format from the extension and rejects others", () => {
  assert.equal(formatOf("a/b.PNG"), "png");
  assert.equal(formatOf("x.svg"), "svg");
  assert.equal(formatOf("x.dot"), "dot");
  assert.throws(() => formatOf("x.jpg"), UsageError);
  assert.throws(() => formatOf("noext"), UsageError);
});

Deno.test("ggufc graph writes DOT, SVG and PNG files for a model", async () => {
  await withModel(async (dir, model) => {
    await graphCommand.run([model, "-o", `${dir}/g.dot`, "--stage", "source"]);
    assert.match(await Deno.readTextFile(`${dir}/g.dot`), /^digraph G \{/);
    await graphCommand.run([model, "-o", `${dir}/g.svg`, "--rankdir", "LR"]);
    const svg = await Deno.readTextFile(`${dir}/g.svg`);
    assert.ok(svg.includes("<svg") && svg.includes("kernel 0"));
    await graphCommand.run([model, "-o", `${dir}/g.png`, "--stage", "plan", "--scale", "1"]);
    const png = await Deno.readFile(`${dir}/g.png`);
    assert.equal(new TextDecoder().decode(png.subarray(1, 4)), "PNG");
  });
});

Deno.test("ggufc graph reports a wrong stage, scale, missing -o or missing model as usage errors", async () => {
  await withModel(async (dir, model) => {
    const o = `${dir}/g.svg`;
    await assert.rejects(graphCommand.run([model, "-o", o, "--stage", "final"]), UsageError);
    await assert.rejects(graphCommand.run([model, "-o", o, "--scale", "0"]), UsageError);
    await assert.rejects(graphCommand.run([model, "-o", o, "--rankdir", "XY"]), UsageError);
    await assert.rejects(graphCommand.run([model]), UsageError);
    await assert.rejects(graphCommand.run([`${dir}/none.gguf`, "-o", o]), UsageError);
    await assert.rejects(graphCommand.run([model, "-o", `${dir}/no/such/dir/g.svg`]), UsageError);
  });
});

Deno.test({
  name: "ggufc graph draws the ggml-trained mnist-fc fixture and the seed's legacy file",
  ignore: !hasFixture,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ggufc-graph-" });
    try {
      for (const file of ["ggml-mnist-fc-f32.gguf", "ggml-model-f32.bin"]) {
        const model = new URL(file, FIXTURE).pathname;
        for (const stage of ["source", "optimized", "plan", "all"]) {
          await graphCommand.run([model, "-o", `${dir}/${stage}.svg`, "--stage", stage]);
          const svg = await Deno.readTextFile(`${dir}/${stage}.svg`);
          // The plan names buffers after activations; the other stages show the weights.
          assert.ok(svg.includes(stage === "plan" ? "memory strip" : "fc1.weight"), stage);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const MODELS_DIR = new URL("../models/", import.meta.url);
const trained: string[] = [];
try {
  for await (const e of Deno.readDir(MODELS_DIR)) {
    // models/magika.gguf is converted, not trained, and not an MNIST model: tested elsewhere.
    if (e.isFile && e.name.startsWith("mnist-") && e.name.endsWith(".gguf")) trained.push(e.name);
  }
} catch { /* no models/ directory */ }
if (!trained.length) {
  console.log("graph_cli_test: no models/*.gguf yet, trained-model test skipped");
}

Deno.test({
  name: "ggufc graph draws every trained model in models/ at every stage",
  ignore: !trained.length,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ggufc-graph-" });
    try {
      for (const name of trained.sort()) {
        for (const stage of ["source", "optimized", "plan"]) {
          const out = `${dir}/${stage}.svg`;
          await graphCommand.run([new URL(name, MODELS_DIR).pathname, "-o", out, "--stage", stage]);
          assert.ok((await Deno.readTextFile(out)).includes('class="node"'), `${name} ${stage}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
