/**
 * The emitted module's worker pool (`createPool`): the same digits and the same probabilities,
 * bit for bit, as the single-threaded `predictBatch` on 1,000 MNIST test images, for a CNN and
 * the FC net, with and without shared memory, in Deno, Node 20 and Chromium; `close()` ends the
 * workers (Deno's op and resource sanitizers stay on; the Node process exits by itself); mistakes
 * are errors.
 *
 * No tolerance: each worker runs the same module file with the same compiled kernels, image by
 * image, as `predictBatch` does, so every float must be identical (compared by bit pattern).
 */
import assert from "node:assert/strict";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import type { EmittedModule } from "../compiler/emit/emitted_module.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { fcWeights, ggmlCnnWeights, ggufOf } from "../testkit/models.ts";
import { launchChromium } from "../testkit/chromium.ts";
import { runNodeScript } from "./helpers/node.ts";

/** An emitted module, which (emitted by this compiler) always has createPool. */
type PoolModule = Required<EmittedModule>;

const COUNT = 1000;
const IMAGES = loadMnist("test").images.pixels.slice(0, COUNT * 784);

/** The trained FC net when present, else random weights of its layout. */
function fcModel(): { name: string; bytes: Uint8Array } {
  try {
    return { name: "mnist-fc.gguf", bytes: Deno.readFileSync("models/mnist-fc.gguf") };
  } catch {
    return { name: "random-fc.gguf", bytes: ggufOf("mnist-fc", fcWeights(11)) };
  }
}

/** ggml HEAD's CNN layout (8 and 16 channels) with random weights. */
function cnnModel(): { name: string; bytes: Uint8Array } {
  return { name: "random-cnn.gguf", bytes: ggufOf("mnist-cnn", ggmlCnnWeights(12)) };
}

const dir = Deno.makeTempDirSync({ prefix: "ggufc_pool_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** Compiles a model to `dir/<stem>.ts` (and `.mjs`) and imports the .ts. */
async function emitted(
  model: { name: string; bytes: Uint8Array },
  target: "wasm" | "ts",
): Promise<{ module: PoolModule; js: string }> {
  const stem = `${model.name.replace(/\.gguf$/, "")}-${target}`;
  const { source } = compileFile(model.bytes, model.name, { target });
  Deno.writeTextFileSync(`${dir}/${stem}.ts`, source);
  Deno.writeTextFileSync(`${dir}/${stem}.mjs`, await bundleJs(source));
  const module = await import(toFileUrl(`${dir}/${stem}.ts`).href) as PoolModule;
  await module.load();
  return { module, js: `${dir}/${stem}.mjs` };
}

/** Same length and the same bits in every element. */
function assertSameBits(
  got: Float32Array | Uint8Array,
  want: Float32Array | Uint8Array,
  what: string,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const g = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
  const w = new Uint8Array(want.buffer, want.byteOffset, want.byteLength);
  const at = g.findIndex((b, i) => b !== w[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

for (const [label, model] of [["the FC net", fcModel()], ["a CNN", cnnModel()]] as const) {
  Deno.test(`a pool of 2 gives predictBatch()'s digits and probabilities bit for bit on 1,000 images for ${label}`, async () => {
    const { module } = await emitted(model, "wasm");
    const ref = module.predictBatch(IMAGES, COUNT);
    const want = { digits: ref.digits.slice(), probabilities: ref.probabilities.slice() };
    for (const shared of [true, false]) {
      const pool = await module.createPool(2, { shared });
      try {
        assert.equal(pool.size, 2);
        assert.equal(pool.shared, shared);
        const got = await pool.predictBatch(IMAGES, COUNT);
        assertSameBits(got.digits, want.digits, `${label}, shared=${shared}: digits`);
        assertSameBits(got.probabilities, want.probabilities, `${label}, shared=${shared}`);
      } finally {
        await pool.close();
      }
    }
  });
}

Deno.test("pooled calls may overlap, take Float32Array input, fewer images than workers and none", async () => {
  const { module } = await emitted(cnnModel(), "wasm");
  const ref = module.predictBatch(IMAGES.subarray(0, 300 * 784), 300);
  const want = ref.probabilities.slice();
  const pool = await module.createPool(3);
  try {
    const [a, b, c] = await Promise.all([
      pool.predictBatch(IMAGES.subarray(0, 100 * 784), 100),
      pool.predictBatch(Float32Array.from(IMAGES.subarray(100 * 784, 300 * 784)), 200),
      pool.predictBatch(IMAGES.subarray(0, 784), 1),
    ]);
    assertSameBits(a!.probabilities, want.subarray(0, 1000), "first 100");
    assertSameBits(b!.probabilities, want.subarray(1000, 3000), "next 200, as floats");
    assertSameBits(c!.probabilities, want.subarray(0, 10), "one image on three workers");
    const none = await pool.predictBatch(new Uint8Array(0), 0);
    assert.equal(none.digits.length, 0);
    assert.equal(none.probabilities.length, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("a pool also runs a module compiled with --target ts", async () => {
  const { module } = await emitted(fcModel(), "ts");
  const images = IMAGES.subarray(0, 200 * 784);
  const want = module.predictBatch(images, 200).probabilities.slice();
  const pool = await module.createPool(2);
  try {
    assertSameBits((await pool.predictBatch(images, 200)).probabilities, want, "ts target");
  } finally {
    await pool.close();
  }
});

Deno.test("createPool() rejects n outside 1..64 or fractional before starting a worker, and pool.predictBatch() a wrong input length", async () => {
  const { module } = await emitted(cnnModel(), "wasm");
  // 1,000 workers took 66 s and 8 GB before the bound; Deno's op sanitizer would report any
  // worker started by a rejected call.
  for (const n of [0, -1, 1.5, NaN, 65, 1000, Infinity]) {
    await assert.rejects(module.createPool(n), (e: Error) => {
      assert.ok(e instanceof RangeError, `n=${n}: ${e}`);
      assert.equal(e.message, `createPool: n must be an integer from 1 to 64, got ${n}`);
      return true;
    });
  }
  const pool = await module.createPool(1);
  try {
    await assert.rejects(pool.predictBatch(new Uint8Array(784 * 2 + 1), 2), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /pool\.predictBatch: expected 1568 values \(2 x 784\), got 1569/);
      return true;
    });
    await assert.rejects(pool.predictBatch(new Float32Array(784).fill(256), 1), RangeError);
    // Still usable after a rejected call.
    assert.equal((await pool.predictBatch(IMAGES.subarray(0, 784), 1)).digits.length, 1);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.predictBatch(IMAGES.subarray(0, 784), 1), /the pool was closed/);
  await pool.close(); // a second close is harmless
});

Deno.test("pool calls in flight at once, and calls of other sizes after them, each get their own results", async () => {
  const { module } = await emitted(cnnModel(), "wasm");
  const want = (from: number, count: number) =>
    module.predictBatch(IMAGES.subarray(from * 784, (from + count) * 784), count).probabilities
      .slice();
  const pool = await module.createPool(2, { shared: true });
  try {
    // Three calls at once (three scratch areas), then a larger and a smaller one (reused or
    // grown scratch), then floats: every result is its own input's, bit for bit.
    const calls = [[0, 100], [100, 37], [300, 64]] as const;
    const got = await Promise.all(
      calls.map(([from, n]) => pool.predictBatch(IMAGES.subarray(from * 784, (from + n) * 784), n)),
    );
    calls.forEach(([from, n], k) =>
      assertSameBits(got[k]!.probabilities, want(from, n), `call ${k}`)
    );
    for (const [from, n] of [[0, 400], [5, 3], [700, 300]] as const) {
      const r = await pool.predictBatch(IMAGES.subarray(from * 784, (from + n) * 784), n);
      assertSameBits(r.probabilities, want(from, n), `${n} images from ${from}`);
      assert.ok(!(r.probabilities.buffer instanceof SharedArrayBuffer), "the caller's own copy");
    }
    const floats = Float32Array.from(IMAGES.subarray(0, 50 * 784));
    assertSameBits((await pool.predictBatch(floats, 50)).probabilities, want(0, 50), "floats");
  } finally {
    await pool.close();
  }
});

Deno.test("pool.predictBatch() goes by an input's own length, not by a subclass's length or slice", async () => {
  const { module } = await emitted(cnnModel(), "wasm");
  const images = IMAGES.subarray(0, 50 * 784);
  const want = module.predictBatch(images, 50).probabilities.slice();
  /** Claims twice its length and answers slice() with zeros. */
  class Liar extends Uint8Array {
    override get length(): number {
      return 2 * super.length;
    }
    override slice(): Uint8Array<ArrayBuffer> {
      return new Uint8Array(784 * 50);
    }
  }
  const liar = new Liar(images);
  for (const shared of [true, false]) {
    const pool = await module.createPool(2, { shared });
    try {
      const got = await pool.predictBatch(liar, 50);
      assertSameBits(got.probabilities, want, `shared=${shared}: the real pixels were used`);
      await assert.rejects(
        pool.predictBatch(liar, 100),
        /pool\.predictBatch: expected 78400 values \(100 x 784\), got 39200/,
      );
    } finally {
      await pool.close();
    }
  }
});

Deno.test("in Node 20 a pool of 2 gives predictBatch()'s results bit for bit, and close() lets the process exit", async () => {
  const runner = `${dir}/run_pool.mjs`;
  const script = `import { readFileSync } from "node:fs";
const m = await import(new URL(process.argv[2], "file:///").href);
await m.load();
const images = new Uint8Array(readFileSync(process.argv[3]));
const count = images.length / 784;
const ref = m.predictBatch(images, count);
const want = Buffer.from(ref.probabilities.buffer, ref.probabilities.byteOffset, ref.probabilities.byteLength).toString("hex");
const wantDigits = Array.from(ref.digits).join();
const results = [];
for (const shared of [true, false]) {
  const pool = await m.createPool(2, { shared });
  const r = await pool.predictBatch(images, count);
  const got = Buffer.from(r.probabilities.buffer, r.probabilities.byteOffset, r.probabilities.byteLength).toString("hex");
  results.push({ shared: pool.shared, count: r.digits.length, sameBits: got === want, sameDigits: Array.from(r.digits).join() === wantDigits });
  await pool.close();
}
console.log(JSON.stringify({ backend: m.backend(), results }));
`;
  Deno.writeFileSync(`${dir}/images.bin`, IMAGES);
  for (const model of [fcModel(), cnnModel()]) {
    const { js } = await emitted(model, "wasm");
    // A pool that failed to end its workers would keep node alive: runNodeScript fails at 60 s.
    const got = await runNodeScript(runner, script, [js, `${dir}/images.bin`]) as {
      backend: string;
      results: unknown[];
    };
    assert.match(got.backend, /^wasm-/);
    assert.deepEqual(got.results, [
      { shared: true, count: COUNT, sameBits: true, sameDigits: true },
      { shared: false, count: COUNT, sameBits: true, sameDigits: true },
    ], model.name);
  }
});

Deno.test({
  name:
    "in Chromium a pool gives predictBatch()'s results bit for bit, with copies and, cross-origin isolated, shared memory",
  // Playwright's pipes and the local server outlive the test's op accounting.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { js } = await emitted(cnnModel(), "wasm");
    const files: Record<string, [Uint8Array, string]> = {
      "/": [new TextEncoder().encode("<!doctype html><title>pool</title>"), "text/html"],
      "/model.js": [Deno.readFileSync(js), "text/javascript"],
      "/images.bin": [IMAGES, "application/octet-stream"],
    };
    let isolate = false;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const file = files[new URL(req.url).pathname];
      if (!file) return new Response("not found", { status: 404 });
      const headers = new Headers({ "content-type": file[1] });
      if (isolate) {
        headers.set("cross-origin-opener-policy", "same-origin");
        headers.set("cross-origin-embedder-policy", "require-corp");
      }
      return new Response(file[0].slice(), { headers });
    });
    const browser = await launchChromium();
    try {
      for (const isolated of [false, true]) {
        isolate = isolated;
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${server.addr.port}/`);
        const got = await page.evaluate(async () => {
          const m = await import("/model.js");
          await m.load();
          const images = new Uint8Array(await (await fetch("/images.bin")).arrayBuffer());
          const count = images.length / 784;
          const ref = m.predictBatch(images, count);
          const want = new Uint8Array(ref.probabilities.slice().buffer);
          const pool = await m.createPool(2);
          const r = await pool.predictBatch(images, count);
          const bytes = new Uint8Array(
            r.probabilities.buffer,
            r.probabilities.byteOffset,
            r.probabilities.byteLength,
          );
          const sameBits = bytes.length === want.length &&
            bytes.every((b: number, i: number) => b === want[i]);
          const sameDigits = r.digits.every((d: number, i: number) => d === ref.digits[i]);
          await pool.close();
          return {
            isolated:
              (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated,
            shared: pool.shared,
            count: r.digits.length,
            sameBits,
            sameDigits,
          };
        });
        assert.deepEqual(got, {
          isolated,
          shared: isolated,
          count: COUNT,
          sameBits: true,
          sameDigits: true,
        });
        await page.close();
      }
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
