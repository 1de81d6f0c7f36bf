/**
 * `--split` modules (OUT.js + OUT.wasm): the weights file is a valid WASM module holding the
 * weights as its last bytes; the module reads it from beside itself (Deno, Node) or fetches and
 * compiles it (Chromium), or takes it from `load({ wasm })` as a URL, bytes, a Response or a
 * compiled Module; a pool's workers get it too. Every path gives the single-file module's
 * probabilities bit for bit (same kernels, same weights: no tolerance). A missing, truncated or
 * foreign weights file is a clear error, and `load()` can be retried after one.
 */
import assert from "node:assert/strict";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import { toBase64 } from "../compiler/codegen/base64.ts";
import type { EmittedModule } from "../compiler/emit/emitted_module.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { launchChromium } from "../testkit/chromium.ts";
import { runNodeScript } from "./helpers/node.ts";

const COUNT = 200;
const IMAGES = loadMnist("test").images.pixels.slice(0, COUNT * 784);
const MODEL = "models/mnist-cnn-small.gguf";
const MODEL_BYTES = Deno.readFileSync(MODEL);

const dir = Deno.makeTempDirSync({ prefix: "ggufc_split_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

let copies = 0;
/** Compiles MODEL --split into `dir/<stem>.ts` + `.wasm` (+ `.mjs`); a fresh stem each time. */
async function splitModule(options: { weights?: "f32" | "q8_0" } = {}) {
  const stem = `split${copies++}`;
  const result = compileFile(MODEL_BYTES, "mnist-cnn-small.gguf", {
    ...options,
    weightsFile: `${stem}.wasm`,
  });
  assert.ok(result.weightsWasm, "a weights file");
  Deno.writeTextFileSync(`${dir}/${stem}.ts`, result.source);
  Deno.writeTextFileSync(`${dir}/${stem}.mjs`, await bundleJs(result.source));
  Deno.writeFileSync(`${dir}/${stem}.wasm`, result.weightsWasm);
  const url = toFileUrl(`${dir}/${stem}.ts`).href;
  return { stem, result, url, wasm: `${dir}/${stem}.wasm`, js: `${dir}/${stem}.mjs` };
}

/** Imports module source from a data: URL without calling load(). */
async function loadEmittedSourceUnloaded(source: string): Promise<EmittedModule> {
  const b64 = toBase64(new TextEncoder().encode(source));
  return await import(`data:application/typescript;base64,${b64}`) as EmittedModule;
}

/** The single-file module's probabilities on the test images: what every path must give. */
const want = await (async () => {
  const { source } = compileFile(MODEL_BYTES, "mnist-cnn-small.gguf");
  Deno.writeTextFileSync(`${dir}/single.ts`, source);
  const m = await import(toFileUrl(`${dir}/single.ts`).href) as EmittedModule;
  await m.load();
  return m.predictBatch(IMAGES, COUNT).probabilities.slice();
})();

function sameBits(got: Float32Array, what: string): void {
  assert.equal(got.length, want.length, what);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const i = a.findIndex((x, k) => x !== b[k]);
  assert.equal(i, -1, `${what}: probability ${i} differs (${got[i]} vs ${want[i]})`);
}

/** predict() one by one, and predictBatch(), against the single-file module. */
function checkModule(m: EmittedModule, what: string): void {
  sameBits(m.predictBatch(IMAGES, COUNT).probabilities, `${what}, predictBatch`);
  const one = new Float32Array(COUNT * 10);
  for (let n = 0; n < COUNT; n++) {
    one.set(m.predict(IMAGES.subarray(n * 784, (n + 1) * 784)).probabilities, n * 10);
  }
  sameBits(one, `${what}, predict`);
}

Deno.test("the weights file is a WASM module whose memory holds the weights, which are its last bytes", async () => {
  const { result } = await splitModule();
  const file = result.weightsWasm!;
  const weightBytes = result.report.weightBytes;
  assert.ok(WebAssembly.validate(file as Uint8Array<ArrayBuffer>));
  const { instance } = await WebAssembly.instantiate(file as Uint8Array<ArrayBuffer>);
  const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
  const weightsAt = Number(/const WEIGHTS_AT = (\d+);/.exec(result.source)![1]);
  const tail = file.subarray(file.length - weightBytes);
  assert.deepEqual(memory.subarray(weightsAt, weightsAt + weightBytes), tail);
  // The module text carries no weights: it is shorter than the single-file one by at least
  // their base64 (4/3 of the bytes), less the file head it keeps to check the file against.
  assert.match(result.source, /const WEIGHTS = "";/);
  const single = compileFile(MODEL_BYTES, "mnist-cnn-small.gguf").source;
  const saved = single.length - result.source.length;
  assert.ok(saved > (4 / 3) * weightBytes - 400, `${saved} chars saved`);
  assert.equal(result.report.weightBytes, weightBytes);
});

Deno.test("a --split module read from beside itself, from bytes, a Response and a compiled Module gives the single-file results bit for bit", async () => {
  const beside = await splitModule();
  const m = await import(beside.url) as EmittedModule;
  await m.load();
  assert.match(m.backend(), /^wasm-/);
  checkModule(m, "beside the module");
  assert.deepEqual(m.info.options.split, true);

  const bytes = Deno.readFileSync(beside.wasm);
  const sources: [string, () => unknown][] = [
    ["bytes", () => bytes],
    ["ArrayBuffer", () => bytes.slice().buffer],
    ["Response", () => new Response(bytes, { headers: { "content-type": "application/wasm" } })],
    ["Response without a wasm type", () => new Response(bytes)],
    ["WebAssembly.Module", () => new WebAssembly.Module(bytes)],
    ["URL", () => toFileUrl(beside.wasm)],
  ];
  for (const [what, source] of sources) {
    // A fresh copy of the module (a new URL) without its weights file: only the source given
    // to load() can supply the weights.
    const copy = await splitModule();
    Deno.removeSync(copy.wasm);
    const c = await import(copy.url) as EmittedModule;
    await c.load({ wasm: source() as Uint8Array<ArrayBuffer> });
    checkModule(c, what);
  }
});

Deno.test("a pool of a --split module gives predictBatch()'s results bit for bit", async () => {
  const { url } = await splitModule();
  const m = await import(url) as Required<EmittedModule>;
  await m.load();
  for (const shared of [true, false]) {
    const pool = await m.createPool(2, { shared });
    try {
      sameBits((await pool.predictBatch(IMAGES, COUNT)).probabilities, `pool, shared=${shared}`);
    } finally {
      await pool.close();
    }
  }
});

Deno.test("a missing, truncated or foreign weights file is a clear error, and load() can try again", async () => {
  const { url, wasm, stem } = await splitModule();
  const good = Deno.readFileSync(wasm);
  Deno.removeSync(wasm);
  const m = await import(url) as EmittedModule;
  await assert.rejects(
    m.load(),
    new RegExp(
      `could not load this module's weights from file:///.*/${stem}\\.wasm: .*; serve ${stem}\\.wasm next to the module, or pass it to load\\(\\{ wasm \\}\\)`,
    ),
  );
  await assert.rejects(
    m.load({ wasm: good.subarray(0, good.length - 1) }),
    new RegExp(`${good.length - 1} bytes, expected ${good.length} \\(expected ${stem}\\.wasm`),
  );
  const foreign = (await splitModule({ weights: "q8_0" })).result.weightsWasm!;
  await assert.rejects(
    m.load({ wasm: foreign as Uint8Array<ArrayBuffer> }),
    /the weights given to load\(\): .*expected .* from the same ggufc compile, weights sha256 [0-9a-f]{64}/,
  );
  const flipped = good.slice();
  flipped[20] = flipped[20]! ^ 1;
  await assert.rejects(m.load({ wasm: flipped }), /byte 20 differs from the weights file's/);
  await assert.rejects(
    m.load({ wasm: new WebAssembly.Module(foreign as Uint8Array<ArrayBuffer>) }),
    /the WebAssembly\.Module given to load\(\) does not hold this module's weights/,
  );
  // The failures were not kept: the right file loads.
  await m.load({ wasm: good });
  checkModule(m, "after failures");
});

Deno.test("a --split module where its own URL cannot locate the file (a data: URL), or given a wrong kind of value, says what to pass", async () => {
  const { result } = await splitModule();
  const m = await loadEmittedSourceUnloaded(result.source);
  await assert.rejects(
    m.load(),
    /cannot find the weights file 'split\d+\.wasm' relative to this module \(data:.*\): pass it to load\(\{ wasm \}\)/,
  );
  await assert.rejects(
    m.load({ wasm: 42 as unknown as Uint8Array<ArrayBuffer> }),
    /load\(\{ wasm \}\): expected a URL or path, bytes, a Response or a WebAssembly\.Module, got number/,
  );
  await m.load({ wasm: result.weightsWasm! as Uint8Array<ArrayBuffer> });
  checkModule(m, "from a data: URL, with the bytes");
});

Deno.test("load({ wasm }) on a module that embeds its weights is a TypeError", async () => {
  const m = await import(toFileUrl(`${dir}/single.ts`).href) as EmittedModule;
  await assert.rejects(
    m.load({ wasm: new Uint8Array(8) }),
    {
      name: "TypeError",
      message: /this module embeds its weights \(it was not compiled --split\)/,
    },
  );
});

Deno.test("in Node 20 a --split module reads its weights file and matches the single-file results", async () => {
  const { js } = await splitModule();
  Deno.writeFileSync(`${dir}/images.bin`, IMAGES);
  const got = await runNodeScript(
    `${dir}/run_split.mjs`,
    `import { readFileSync } from "node:fs";
const m = await import(new URL(process.argv[2], "file:///").href);
await m.load();
const images = new Uint8Array(readFileSync(process.argv[3]));
const p = m.predictBatch(images, images.length / 784).probabilities;
console.log(JSON.stringify({ backend: m.backend(), hex: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("hex") }));
`,
    [js, `${dir}/images.bin`],
  ) as { backend: string; hex: string };
  // Node 20 has no relaxed SIMD: the plain kernels, whose f32 convs differ from the relaxed
  // variant's int8 ones; compare with a plain single-file module instead.
  assert.equal(got.backend, "wasm-simd128");
  const { source } = compileFile(MODEL_BYTES, "mnist-cnn-small.gguf", { relaxed: false });
  Deno.writeTextFileSync(`${dir}/plain.ts`, source);
  const plain = await import(toFileUrl(`${dir}/plain.ts`).href) as EmittedModule;
  await plain.load();
  const p = plain.predictBatch(IMAGES, COUNT).probabilities;
  assert.equal(
    got.hex,
    Array.from(
      new Uint8Array(p.buffer, p.byteOffset, p.byteLength),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(""),
  );
});

Deno.test({
  name:
    "in Chromium a --split module compiles its weights file while it downloads and matches the single-file results",
  // Playwright's pipes and the local server outlive the test's op accounting.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { js, wasm } = await splitModule();
    const requests: string[] = [];
    const files: Record<string, [Uint8Array, string]> = {
      "/": [new TextEncoder().encode("<!doctype html><title>split</title>"), "text/html"],
      "/model.js": [Deno.readFileSync(js), "text/javascript"],
      [`/${wasm.split("/").pop()}`]: [Deno.readFileSync(wasm), "application/wasm"],
      "/images.bin": [IMAGES, "application/octet-stream"],
    };
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const file = files[path];
      if (!file) return new Response("not found", { status: 404 });
      return new Response(file[0].slice(), { headers: { "content-type": file[1] } });
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      const got = await page.evaluate(async () => {
        let streamed = 0;
        const compileStreaming = WebAssembly.compileStreaming;
        WebAssembly.compileStreaming = (r) => (streamed++, compileStreaming(r));
        const m = await import("/model.js");
        await m.load();
        const images = new Uint8Array(await (await fetch("/images.bin")).arrayBuffer());
        const p = m.predictBatch(images, images.length / 784).probabilities as Float32Array;
        return {
          backend: m.backend(),
          streamed,
          bits: Array.from(new Uint32Array(p.slice().buffer)),
        };
      });
      assert.equal(got.backend, "wasm-relaxed-simd");
      assert.equal(got.streamed, 1, "compiled with WebAssembly.compileStreaming");
      assert.ok(requests.includes(`/${wasm.split("/").pop()}`));
      assert.deepEqual(got.bits, Array.from(new Uint32Array(want.slice().buffer)));
      await page.close();
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
