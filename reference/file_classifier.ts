/**
 * A file-type classifier (Magika) as the CLI and the benchmarks see it: the part of the compiled
 * Magika module's API they use (`info.labels`, `backend()`, `predict(bytes)`,
 * `predictBatch(files)`), and the same API over the reference interpreter, so every engine plugs
 * in the same way.
 *
 * @module
 */
import { type Graph, GraphError, inputKind } from "../compiler/ir/graph.ts";
import { BYTE_TOKEN_COUNT, fileTokens } from "../compiler/emit/runtime/byte_tokens.ts";
import { argmax, runGraph } from "./interpreter.ts";

/** One file's result: the top label, its probability, and every label's probability. */
export interface FilePrediction {
  readonly label: string;
  readonly score: number;
  /** One probability per label, in `info.labels` order. */
  readonly probabilities: Float32Array;
}

/** Many files' results: `labels[i]`, `scores[i]`, probabilities `i * labels .. (i+1) * labels`. */
export interface FileBatchPrediction {
  readonly labels: string[];
  readonly scores: Float32Array;
  readonly probabilities: Float32Array;
}

/** What the CLI and benchmarks call: the compiled Magika module, or the interpreter. */
export interface FileClassifier {
  readonly info: { readonly labels: readonly string[] };
  /** Which code runs: `wasm-simd128`, `ts`, `interpreter`, ... */
  backend(): string;
  /** Classifies one whole file. */
  predict(bytes: Uint8Array): FilePrediction;
  /** Classifies many files. */
  predictBatch(files: Uint8Array[]): FileBatchPrediction;
}

/**
 * The label of the largest probability and its score, for row `i` of `probs`.
 *
 * @param probs `n * labels.length` probabilities
 * @param labels the labels in output order
 * @param i the row
 */
export function topOf(
  probs: Float32Array,
  labels: readonly string[],
  i = 0,
): { label: string; score: number } {
  const n = labels.length, k = argmax(probs, i * n, n);
  return { label: labels[k]!, score: probs[i * n + k]! };
}

/**
 * The reference interpreter behind the {@link FileClassifier} API: each file's 1536 byte tokens
 * (as ggml's main.cpp reads them) through `graph`, one file at a time.
 *
 * @param graph a byte-token graph built for batch 1 (the Magika frontend's)
 * @returns the classifier
 * @throws GraphError when the graph does not take byte tokens or has no labels
 */
export function interpreterFileClassifier(graph: Graph): FileClassifier {
  const input = graph.nodes[graph.input]!;
  const labels = graph.meta.labels;
  if (inputKind(graph) !== "byte-tokens" || !labels || input.ne[0] !== BYTE_TOKEN_COUNT) {
    throw new GraphError(input.name, `${graph.meta.arch}: not a byte-token classifier`);
  }
  if (input.ne[1] !== 1) throw new GraphError(input.name, "build the graph for batch 1");
  const probsOf = (bytes: Uint8Array) => runGraph(graph, Float32Array.from(fileTokens(bytes)));
  return {
    info: { labels },
    backend: () => "interpreter",
    predict(bytes) {
      const probabilities = probsOf(bytes);
      return { ...topOf(probabilities, labels), probabilities };
    },
    predictBatch(files) {
      const n = labels.length;
      const probabilities = new Float32Array(files.length * n);
      const scores = new Float32Array(files.length);
      const out: string[] = [];
      files.forEach((bytes, i) => {
        probabilities.set(probsOf(bytes), i * n);
        const top = topOf(probabilities, labels, i);
        out.push(top.label);
        scores[i] = top.score;
      });
      return { labels: out, scores, probabilities };
    },
  };
}
