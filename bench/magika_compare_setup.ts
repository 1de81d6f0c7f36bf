/**
 * Set-up of the Magika comparison benchmarks (bench/magika.bench.ts, bench/magika_report.ts;
 * bench/magika_setup.ts serves bench/magika_kernels.bench.ts): the files
 * (the 77 of ../shared/fixtures/magika/tests_data/basic, or when that is absent this repo's own
 * files), their tokens, the compiled modules (f32 and q8_0 weights, bundled under
 * `build/bench/`), and every engine behind one interface, each checked against the reference
 * interpreter on a few files before anything is timed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import { BYTE_TOKEN_COUNT, fileTokens } from "../compiler/emit/runtime/byte_tokens.ts";
import { argmax } from "../reference/interpreter.ts";
import { type PeerId, type TokenPeer } from "../peers/peer.ts";
import { createTokenPeer, TOKEN_PEER_TOLERANCE, tokenReference } from "../peers/token_peer.ts";
import { BUILD_DIR, ROOT, SMOKE } from "./setup.ts";

/** The Magika model file, relative to the project root. */
export const MAGIKA_MODEL = "models/magika.gguf";
/** Where the fixture's real files are. */
export const FIXTURE_DIR = `${ROOT}../shared/fixtures/magika/tests_data/basic/`;
/** Files per throughput batch. */
export const BATCH = 64;
/** Files each engine is checked on before timing (the interpreter takes ~0.2 s per file). */
const VERIFY_FILES = SMOKE ? 2 : 6;

/** The compiled Magika module's API, as the compile branch emits it. */
export interface MagikaModule {
  load(): Promise<void>;
  backend(): string;
  readonly info: {
    readonly labels: readonly string[];
    readonly arenaBytes?: number;
    readonly weightBytes?: number;
  };
  predict(bytes: Uint8Array): { label: string; score: number; probabilities: Float32Array };
  predictTokens(tokens: Int32Array): { label: string; probabilities: Float32Array };
  predictBatch(files: Uint8Array[]): { labels: string[]; probabilities: Float32Array };
  createPool(n: number): Promise<{
    predictBatch(files: Uint8Array[]): Promise<{ labels: string[]; probabilities: Float32Array }>;
    close(): Promise<void>;
  }>;
}

/** The benchmark files: names, bytes and tokens (`count * 1536`). */
export interface BenchFiles {
  readonly source: "fixture" | "repo";
  readonly names: readonly string[];
  readonly bytes: readonly Uint8Array[];
  readonly tokens: Int32Array;
}

/** Every regular file under `dir`, sorted by path. */
function walk(dir: string, skip: (name: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    if (skip(e.name)) continue;
    const p = `${dir}${e.name}`;
    if (e.isDirectory) out.push(...walk(`${p}/`, skip));
    else if (e.isFile) out.push(p);
  }
  return out;
}

/** Notes printed by the benches and carried into the report (e.g. the fixture's absence). */
export const magikaNotes: string[] = [];

/**
 * The fixture's 77 files, or, without ../shared, the first 77 files of this repository
 * (sources, docs and models; build output and dependencies left out).
 */
export function benchFiles(): BenchFiles {
  let source: BenchFiles["source"] = "fixture";
  let paths: string[];
  if (existsSync(FIXTURE_DIR)) {
    paths = walk(FIXTURE_DIR);
  } else {
    source = "repo";
    const skip = (n: string) => n.startsWith(".") || ["node_modules", "build", "dist"].includes(n);
    paths = walk(ROOT, skip).slice(0, 77);
    magikaNotes.push(
      "../shared/fixtures/magika is absent: the Magika benchmarks use 77 files of this repository",
    );
  }
  const bytes = paths.map((p) => readFileSync(p));
  const tokens = new Int32Array(paths.length * BYTE_TOKEN_COUNT);
  bytes.forEach((b, i) => tokens.set(fileTokens(b), i * BYTE_TOKEN_COUNT));
  const names = paths.map((p) => p.startsWith(ROOT) ? p.slice(ROOT.length) : p);
  return { source, names, bytes, tokens };
}

/** The batch-1 graph of models/magika.gguf. */
export function magikaGraph(): Graph {
  return loadModel(readFileSync(`${ROOT}${MAGIKA_MODEL}`), "magika.gguf").graph;
}

/** The weight formats benchmarked. */
export const MAGIKA_WEIGHTS = ["f32", "q8_0"] as const;

/**
 * Compiles models/magika.gguf (WASM target) with `weights`, bundles it to
 * `build/bench/magika-<weights>.js` (rewritten only when the source changed) and returns the
 * path. Throws the compiler's error when it cannot compile Magika.
 */
export async function buildMagikaModule(weights: typeof MAGIKA_WEIGHTS[number]): Promise<string> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const bytes = readFileSync(`${ROOT}${MAGIKA_MODEL}`);
  const { source } = compileFile(bytes, "magika.gguf", { target: "wasm", weights });
  const path = `${BUILD_DIR}magika-${weights}.js`;
  const stamp = `${path}.sha256`;
  const hash = createHash("sha256").update(source).digest("hex");
  if (!existsSync(path) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== hash) {
    writeFileSync(path, await bundleJs(source));
    writeFileSync(stamp, hash);
  }
  return path;
}

let fresh = 0;
/** A fresh copy of the bundled module (a new URL: Deno evaluates it again), not loaded. */
export function importFresh(path: string): Promise<MagikaModule> {
  return import(`${toFileUrl(path).href}?fresh=${fresh++}`) as Promise<MagikaModule>;
}

/** One engine behind the interface the benches time. */
export interface MagikaEngine {
  /** Bench name: `wasm-f32`, `wasm-q8_0`, `pool-2`, or a peer id. */
  readonly id: string;
  /** What runs, for tables. */
  readonly name: string;
  /** One file: its tokens (`predictTokens`), or for peers the same tokens as int64/int32. */
  one(i: number): unknown;
  /** A batch of files `0..count`. */
  batch(count: number): unknown;
  dispose(): Promise<void>;
}

/**
 * Checks `probs` (files 0..count) against the interpreter's: the same top label (near ties
 * within {@link TOKEN_PEER_TOLERANCE} excepted) and every |dp| within `tolerance`.
 */
function verify(name: string, probs: Float32Array, ref: Float32Array, tolerance: number): number {
  const n = 113, count = ref.length / n;
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const want = argmax(ref, i * n, n), got = argmax(probs, i * n, n);
    if (got !== want && ref[i * n + want]! - ref[i * n + got]! > TOKEN_PEER_TOLERANCE) {
      throw new Error(`${name}: file ${i}: label ${got}, the interpreter's ${want}`);
    }
    for (let j = 0; j < n; j++) {
      worst = Math.max(worst, Math.abs(probs[i * n + j]! - ref[i * n + j]!));
    }
  }
  if (!(worst <= tolerance)) throw new Error(`${name}: |dp| ${worst} from the interpreter`);
  return worst;
}

/**
 * The probability tolerance of each engine against the interpreter. q8_0 rounds the weights to
 * 8 bits (|dp| up to ~2.5e-2 measured); what it must keep is the top label (checked on every
 * fixture file against ggml, see {@link ggmlAgreement}).
 */
const TOLERANCE: Record<string, number> = { "wasm-q8_0": 5e-2 };

/** ggml's top label per fixture file (ggml-magika.tsv), by path relative to FIXTURE_DIR. */
function ggmlLabels(): Map<string, string> | undefined {
  const tsv = `${FIXTURE_DIR}../../ggml-magika.tsv`;
  if (!existsSync(tsv)) return undefined;
  return new Map(
    readFileSync(tsv, "utf8").trim().split("\n").map((line) => {
      const [path, label] = line.split("\t");
      return [path!.replace(/^tests_data\/basic\//, ""), label!];
    }),
  );
}

/**
 * How many fixture files a module labels as ggml does, as a note line (undefined without the
 * fixture).
 */
function ggmlAgreement(
  id: string,
  files: BenchFiles,
  labels: readonly string[],
): string | undefined {
  const want = ggmlLabels();
  if (!want || files.source !== "fixture") return undefined;
  let agree = 0;
  const differ: string[] = [];
  files.names.forEach((name, i) => {
    const key = name.slice(name.indexOf("tests_data/basic/") + "tests_data/basic/".length);
    if (want.get(key) === labels[i]) agree++;
    else differ.push(`${key} (${labels[i]}, ggml ${want.get(key)})`);
  });
  return `${id}: the top label agrees with ggml on ${agree}/${files.names.length} fixture files` +
    (differ.length ? `; differs on ${differ.join(", ")}` : "");
}

/** The engines to time, in table order, each verified. */
export interface MagikaEngines {
  readonly engines: MagikaEngine[];
  /** Why the compiled module is missing, when it is. */
  readonly moduleMissing?: string;
}

/** The peers the Magika benches compare against. */
export const MAGIKA_PEERS: readonly PeerId[] = SMOKE
  ? ["ort-node-1t"]
  : ["ort-web", "ort-node-1t", "ort-node-2t", "tfjs-wasm"];

/**
 * Loads every engine: the compiled module (f32 and q8_0 weights; `createPool(2)` for batches
 * when `pool`), and the peers, all checked on the first files against the interpreter.
 *
 * @param files the benchmark files
 * @param pool also make the 2-worker pool engine
 */
export async function magikaEngines(files: BenchFiles, pool = false): Promise<MagikaEngines> {
  const graph = magikaGraph();
  const count = Math.min(VERIFY_FILES, files.names.length);
  const ref = tokenReference(graph, files.tokens, count);
  const engines: MagikaEngine[] = [];
  let moduleMissing: string | undefined;
  try {
    for (const weights of MAGIKA_WEIGHTS) {
      const m = await importFresh(await buildMagikaModule(weights));
      await m.load();
      const id = `wasm-${weights}`;
      const probs = m.predictBatch(files.bytes.slice(0, count) as Uint8Array[]).probabilities;
      const worst = verify(id, probs, ref, TOLERANCE[id] ?? TOKEN_PEER_TOLERANCE);
      const agreement = ggmlAgreement(
        id,
        files,
        m.predictBatch(files.bytes as Uint8Array[]).labels,
      );
      if (agreement) {
        magikaNotes.push(
          `${agreement} (largest |dp| from the interpreter on the first ${count}: ${
            worst.toExponential(1)
          })`,
        );
      }
      const tokens = Array.from(
        { length: files.names.length },
        (_, i) => files.tokens.subarray(i * BYTE_TOKEN_COUNT, (i + 1) * BYTE_TOKEN_COUNT),
      );
      const all = files.bytes as Uint8Array[];
      engines.push({
        id,
        name: `our module, ${weights} weights (${m.backend()}, 1 thread)`,
        one: (i) => m.predictTokens(tokens[i % tokens.length]!),
        batch: (n) => m.predictBatch(all.slice(0, n)),
        dispose: () => Promise.resolve(),
      });
      if (pool && weights === "f32") {
        const p = await m.createPool(2);
        verify("pool-2", (await p.predictBatch(all.slice(0, count))).probabilities, ref, 1e-4);
        engines.push({
          id: "pool-2",
          name: `our module, f32, createPool(2)`,
          one: () => {
            throw new Error("the pool is timed on batches only");
          },
          batch: (n) => p.predictBatch(all.slice(0, n)),
          dispose: () => p.close(),
        });
      }
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!/not supported yet by the compiler/.test(message)) throw e;
    moduleMissing = message;
    magikaNotes.push(`our compiled module is not timed: ${message}`);
  }
  for (const id of MAGIKA_PEERS) {
    const peer: TokenPeer = await createTokenPeer(graph, id);
    verify(peer.name, await peer.predictTokens(files.tokens, count), ref, TOKEN_PEER_TOLERANCE);
    const n = files.names.length;
    engines.push({
      id,
      name: peer.name,
      one: (i) =>
        peer.predictTokens(
          files.tokens.subarray((i % n) * BYTE_TOKEN_COUNT, (i % n + 1) * BYTE_TOKEN_COUNT),
          1,
        ),
      batch: (c) => peer.predictTokens(files.tokens, c),
      dispose: () => peer.dispose(),
    });
  }
  return { engines, moduleMissing };
}
