/**
 * Shared types of the mutation fuzzer: the formats it covers, seed files with a map of their
 * header fields (so mutations can aim at counts, lengths, offsets, types and dims), and the
 * outcome of a run.
 *
 * @module
 */

/** The input formats the fuzzer covers. */
export type FuzzFormat = "gguf" | "legacy" | "idx" | "statedict";

/** Every format, in the order `--format all` runs them. */
export const FUZZ_FORMATS: readonly FuzzFormat[] = ["gguf", "legacy", "idx", "statedict"];

/** What a header field means, which picks the values a field-targeted mutation writes. */
export type FieldKind =
  | "magic"
  | "version"
  | "count"
  | "length"
  | "offset"
  | "size"
  | "type"
  | "n_dims"
  | "dim"
  | "alignment"
  | "int";

/** One integer field of a seed file. */
export interface Field {
  /** Byte offset in the seed. */
  readonly at: number;
  /** Bytes of the field. */
  readonly width: 1 | 2 | 4 | 8;
  readonly kind: FieldKind;
  /** Big-endian (IDX headers); little-endian otherwise. */
  readonly be?: boolean;
  /** A readable name, e.g. `tensor 'fc1.bias' ne[0]`. */
  readonly name: string;
}

/** A valid file the fuzzer starts from. */
export interface Seed {
  /** e.g. `gguf-v1-ggml-fc`. */
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly fields: readonly Field[];
}

/** Why a case failed. */
export type FailureKind = "exception" | "slow" | "memory";

/** One failing case. */
export interface FuzzFailure {
  readonly format: FuzzFormat;
  readonly seed: number;
  readonly caseIndex: number;
  readonly kind: FailureKind;
  /** The error's name and message, or the time / memory figure. */
  readonly message: string;
  /** Where the input was saved, when it was. */
  readonly savedAs?: string;
}

/** The outcome of one format's run. */
export interface FuzzReport {
  readonly format: FuzzFormat;
  readonly runs: number;
  /** Cases whose whole path succeeded. */
  readonly valid: number;
  /** Cases rejected with a FormatError or GraphError, as they should be. */
  readonly rejected: number;
  readonly failures: readonly FuzzFailure[];
  /** Wall time of the run divided by `runs`, in ms. */
  readonly msPerCase: number;
  /** The slowest case, in ms. */
  readonly maxCaseMs: number;
  /** Largest heap + external growth during one case, in bytes. */
  readonly maxCaseGrowth: number;
  /** Most bytes one case allocated (counted by alloc_counter.ts). */
  readonly maxCaseAlloc: number;
  /** Resident set size growth over the whole run, in bytes. */
  readonly rssGrowth: number;
}
