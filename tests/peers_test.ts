/**
 * The benchmark peers (onnxruntime-web, onnxruntime-node 1 and 2 threads, TF.js wasm) load
 * offline and compute what the reference interpreter computes, for every model layout.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { GraphBuilder } from "../compiler/ir/graph.ts";
import { runGraph } from "../reference/interpreter.ts";
import { randomArray, randomPixels, rng } from "../testkit/random.ts";
import { loadMnist } from "../data/mnist_data.ts";
import {
  createPeer,
  createPeers,
  PEER_IDS,
  PeerMismatchError,
  referenceOf,
  verifyPeer,
} from "../peers/mod.ts";
import { fcWeights, ggmlCnnWeights, ggufOf, legacyOf, seedCnnWeights } from "../testkit/models.ts";

/**
 * Probability tolerance between a peer and the interpreter: all compute in float32 with
 * different summation orders (and TF.js/ORT use vectorised kernels); measured differences are
 * below 2e-5 (the seed FC net, fed raw 0..255 pixels, has the largest logits).
 */
const PROB_TOL = 1e-4;
/** Images compared per layout: enough to exercise every class, few enough for ~20 s in all. */
const N = 40;

const { images } = loadMnist("test");

// Small CNN channel counts keep the interpreter's reference fast; the layouts are unchanged.
const layouts: [string, () => Uint8Array, string][] = [
  ["seed-cnn", () => ggufOf("mnist-cnn", seedCnnWeights(21, { c1: 8, c2: 16 })), "m.gguf"],
  ["seed-fc", () => legacyOf(fcWeights(22, 64)), "m.bin"],
  ["ggml-fc", () => ggufOf("mnist-fc", fcWeights(23, 64)), "m.gguf"],
  ["ggml-cnn", () => ggufOf("mnist-cnn", ggmlCnnWeights(24)), "m.gguf"],
];

for (const [layout, bytes, file] of layouts) {
  Deno.test(`every peer agrees with the interpreter on a ${layout} model`, async () => {
    const { graph } = loadModel(bytes(), file);
    const ref = referenceOf(graph, images.pixels, N);
    // createPeers itself verifies the digits; the probabilities are checked here too.
    const peers = await createPeers(graph, PEER_IDS, { verify: N, images: images.pixels });
    try {
      assertEquals(peers.map((p) => p.id), [...PEER_IDS]);
      for (const peer of peers) {
        const probs = await peer.predictBatchProbs(images.pixels, N);
        let maxDiff = 0;
        for (let i = 0; i < N * 10; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(probs[i]! - ref.probs[i]!));
        }
        assert(maxDiff <= PROB_TOL, `${peer.name}: max |dp| ${maxDiff}`);
        // One image at a time gives the same as the batch.
        const digits = await peer.predictBatch(images.pixels, 5);
        for (let i = 0; i < 5; i++) {
          const one = images.pixels.subarray(i * 784, (i + 1) * 784);
          assertEquals(await peer.predict(one), digits[i], `${peer.name} image ${i}`);
          const p = await peer.predictProbs(one);
          assertEquals(p.length, 10);
          assert(
            Math.abs(p[3]! - probs[i * 10 + 3]!) <= PROB_TOL,
            `${peer.name} probs of image ${i}`,
          );
        }
      }
    } finally {
      await Promise.all(peers.map((p) => p.dispose()));
    }
  });
}

Deno.test("verifyPeer() rejects a peer that runs a different computation", async () => {
  const { graph } = loadModel(ggufOf("mnist-fc", fcWeights(31, 32)), "a.gguf");
  const { graph: other } = loadModel(ggufOf("mnist-fc", fcWeights(32, 32)), "b.gguf");
  const peer = await createPeer(other, "ort-web");
  try {
    const err = await assertRejects(
      () => verifyPeer(peer, referenceOf(graph, images.pixels, 50)),
      PeerMismatchError,
      "disagrees with the reference interpreter",
    );
    assert(err.mismatches.length > 5, `only ${err.mismatches.length} mismatches`);
  } finally {
    await peer.dispose();
  }
});

Deno.test("a peer rejects an image buffer that is too short", async () => {
  const b = new GraphBuilder();
  const x = b.input("images", [784, 1]);
  const w = b.weight("w", [784, 10], "f32", new Float32Array(7840).fill(0.001));
  const g = b.build(x, b.softMax(b.mulMat(w, x)), { layout: "t", arch: "t", name: "t" });
  const peer = await createPeer(g, "tfjs-wasm");
  try {
    await assertRejects(
      () => peer.predictBatch(new Uint8Array(784), 2),
      Error,
      "need 2 images",
    );
  } finally {
    await peer.dispose();
  }
});

Deno.test("every peer maps strides, unequal padding, dilation, padded max pooling and a permute", async () => {
  // Shapes the MNIST layouts do not use, so a wrong kernel layout or padding order would show.
  const r = rng(51);
  const b = new GraphBuilder();
  const x = b.input("images", [28, 28, 1, 1]);
  const k1 = b.weight("k1", [3, 2, 1, 4], "f32", randomArray(r, 24, 0.5));
  // TF.js takes strides > 1 or dilations > 1 in one conv, not both: two convs.
  let h = b.conv2d(k1, b.scale(x, 1 / 255), { s0: 2, s1: 1, p0: 1, p1: 2, d0: 1, d1: 1 });
  h = b.relu(b.add_(h, b.weight("b1", [1, 1, 4], "f32", randomArray(r, 4, 0.3))));
  const k2 = b.weight("k2", [2, 3, 4, 3], "f32", randomArray(r, 72, 0.5));
  h = b.conv2d(k2, h, { s0: 1, s1: 1, p0: 0, p1: 1, d0: 3, d1: 2 });
  h = b.pool2d(h, { pool: "max", k0: 3, k1: 3, s0: 2, s1: 2, p0: 1, p1: 1 });
  const [w, hh, c] = b.node(h).ne;
  h = b.cont(b.permute(h, [2, 0, 1, 3])); // [W,H,C] -> [H,C,W]
  const flat = b.reshape(h, [w * hh * c, 1]);
  const dw = b.weight("dw", [w * hh * c, 10], "f32", randomArray(r, w * hh * c * 10, 0.3));
  const g = b.build(x, b.softMax(b.mulMat(dw, flat)), { layout: "t", arch: "t", name: "t" });
  const pixels = randomPixels(rng(52), 3 * 784);
  const peers = await createPeers(g, PEER_IDS, { verify: 0 });
  try {
    for (const peer of peers) {
      const probs = await peer.predictBatchProbs(pixels, 3);
      for (let i = 0; i < 3; i++) {
        const want = runGraph(g, Float32Array.from(pixels.subarray(i * 784, (i + 1) * 784)));
        for (let j = 0; j < 10; j++) {
          assert(
            Math.abs(probs[i * 10 + j]! - want[j]!) <= PROB_TOL,
            `${peer.name} image ${i} class ${j}`,
          );
        }
      }
    }
  } finally {
    await Promise.all(peers.map((p) => p.dispose()));
  }
});
