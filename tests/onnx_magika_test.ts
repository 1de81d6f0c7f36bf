/**
 * ONNX export of Magika (models/magika.gguf): input `tokens` int64 [N, 1536], output [N, 113],
 * the embedding a Gather (no product with the 257-wide one-hot), and onnxruntime-node on the
 * exported file agrees with the reference interpreter on real files: the same top label and
 * every probability within 1e-5. Both compute gelu's tanh form in float32 (ggml's f16 gelu
 * table is reproduced by neither); what is left is summation order, measured 1.2e-7.
 * Files: a few from ../shared/fixtures/magika when present, and always files of this repo.
 * The four peers (onnxruntime-web, -node 1 and 2 threads, TF.js wasm) are checked the same way.
 */
import * as ortNode from "onnxruntime-node";
import { assert, assertEquals } from "./helpers/assert.ts";
import { main } from "../main.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { fileTokens } from "../compiler/emit/runtime/byte_tokens.ts";
import { exportOnnx } from "../export/onnx.ts";
import { argmax } from "../reference/interpreter.ts";
import { createTokenPeers, tokenReference } from "../peers/token_peer.ts";
import { PEER_IDS } from "../peers/peer.ts";

const TOLERANCE = 1e-5;
const FIXTURE = "../shared/fixtures/magika/tests_data/basic";
let haveFixtures = true;
try {
  Deno.statSync(FIXTURE);
} catch {
  haveFixtures = false;
  console.log(`note: ${FIXTURE} absent; the Magika ONNX tests use this repo's files only`);
}
const FILES = [
  "README.md",
  "models/MAGIKA-LICENSE",
  ...(haveFixtures
    ? ["pdf/magika_test.pdf", "python/code.py", "png/magika_test.png"].map((f) => `${FIXTURE}/${f}`)
    : []),
];

const graph = loadModel(await Deno.readFile("models/magika.gguf"), "magika.gguf").graph;
const tokens = new Int32Array(FILES.length * 1536);
FILES.forEach((f, i) => tokens.set(fileTokens(Deno.readFileSync(f)), i * 1536));
const reference = tokenReference(graph, tokens, FILES.length);

function compare(name: string, probs: Float32Array): void {
  assertEquals(probs.length, FILES.length * 113);
  for (let i = 0; i < FILES.length; i++) {
    assertEquals(argmax(probs, i * 113, 113), argmax(reference, i * 113, 113), FILES[i]);
    for (let j = i * 113; j < (i + 1) * 113; j++) {
      const d = Math.abs(probs[j]! - reference[j]!);
      assert(d <= TOLERANCE, `${name}: ${FILES[i]}: label ${j % 113}: |dp| ${d}`);
    }
  }
}

Deno.test("export --onnx on Magika: onnxruntime-node agrees with the interpreter within 1e-5", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ggufc_onnx_magika_" });
  try {
    const out = `${dir}/magika.onnx`;
    assertEquals(await main(["export", "models/magika.gguf", "--onnx", "-o", out]), 0);
    const session = await ortNode.InferenceSession.create(await Deno.readFile(out), {
      logSeverityLevel: 3,
    });
    try {
      assertEquals(session.inputNames, ["tokens"]);
      assertEquals(session.outputNames, ["probabilities"]);
      const x = new ortNode.Tensor("int64", BigInt64Array.from(tokens, BigInt), [
        FILES.length,
        1536,
      ]);
      const result = (await session.run({ tokens: x })).probabilities!;
      assertEquals(result.dims, [FILES.length, 113]);
      compare("onnxruntime-node", result.data as Float32Array);
    } finally {
      await session.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Magika's ONNX graph: a Gather for the embedding, dense layers as MatMul/Gemm, no 257-wide product", () => {
  const onnx = exportOnnx(graph);
  assertEquals(onnx.inputName, "tokens");
  assertEquals(onnx.inputType, "int64");
  assertEquals(onnx.inputShape, [-1, 1536]);
  assertEquals(onnx.outputShape, [-1, 113]);
  const count = (t: string) => onnx.opTypes.filter((o) => o === t).length;
  assertEquals(count("Gather"), 1);
  // dense_1 and dense_2 over [N, 384, *] as MatMul, target_label as Gemm: three products only.
  assertEquals([count("MatMul"), count("Gemm")], [2, 1]);
  assertEquals([count("MaxPool"), count("Softmax"), count("Tanh"), count("ReduceMean")], [
    1,
    1,
    3,
    4,
  ]);
});

Deno.test({
  name: "Magika peers (onnxruntime-web, -node 1t/2t, TF.js wasm) agree with the interpreter",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const peers = await createTokenPeers(graph, PEER_IDS, tokens, FILES.length);
    try {
      assertEquals(peers.map((p) => p.id), [...PEER_IDS]);
      for (const peer of peers) {
        compare(peer.name, await peer.predictTokens(tokens, FILES.length));
        // One file alone gives what the batch gave.
        const one = await peer.predictTokens(tokens.subarray(1536, 3072), 1);
        compare(
          peer.name,
          Float32Array.from(
            reference,
            (_, j) => Math.floor(j / 113) === 1 ? one[j % 113]! : reference[j]!,
          ),
        );
      }
    } finally {
      await Promise.all(peers.map((p) => p.dispose()));
    }
  },
});
