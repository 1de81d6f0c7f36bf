/**
 * The fuzz loop: case `i` of seed `S` picks a seed file and mutations from a random source
 * seeded by (S, format, i) alone, so any case reproduces on its own. Each case runs in
 * process and counts the bytes it allocates (alloc_counter.ts: exact, whatever the machine);
 * the `deno task fuzz` tool also checks each case's time (1 s) and heap growth, which depend on
 * the machine and so stay out of CI. An exception other than FormatError / GraphError, a slow
 * case or a big allocation is a failure, and its input is saved (once per distinct failure)
 * for a regression fixture.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { rng } from "../../testkit/random.ts";
import { allocatedBytesOf, countAllocations } from "./alloc_counter.ts";
import { mutate } from "./mutate.ts";
import { seedsOf } from "./seeds.ts";
import { isExpectedError, runTarget } from "./targets.ts";
import { repairZipCrcs } from "./zip_fields.ts";
import {
  type FailureKind,
  FUZZ_FORMATS,
  type FuzzFailure,
  type FuzzFormat,
  type FuzzReport,
  type Seed,
} from "./types.ts";

/** Options of {@link fuzzFormat}. */
export interface FuzzOptions {
  readonly format: FuzzFormat;
  /** Cases to run. */
  readonly runs: number;
  /** The run's seed: the same seed gives the same cases. */
  readonly seed: number;
  /** First case index (to resume or replay one case). Default 0. */
  readonly firstCase?: number;
  /** Folder to save failing inputs in; none when undefined. */
  readonly saveDir?: string;
  /** A case slower than this fails. Default 1000 ms; Infinity turns the check off (CI). */
  readonly caseLimitMs?: number;
  /** A case growing heap + external memory by more than this fails. Default 128 MiB. */
  readonly caseMemoryLimit?: number;
  /** A case allocating more bytes than this (counted, not measured) fails. Default 64 MiB. */
  readonly caseAllocLimit?: number;
  /** Run the reference interpreter on every n-th case whose model loads. Default 1. */
  readonly interpretEvery?: number;
  /** What runs on each input; default {@link runTarget} (tests plant bugs through this). */
  readonly target?: (format: FuzzFormat, bytes: Uint8Array, interpret: boolean) => void;
  /** Called every `progressEvery` cases with the number done. */
  readonly onProgress?: (done: number) => void;
  readonly progressEvery?: number;
}

/** The case being run, so a hang can be reported (the CLI prints it on Ctrl-C). */
export let currentCase:
  | { format: FuzzFormat; seed: number; caseIndex: number; input: Uint8Array }
  | undefined;

/** A 32-bit seed for case `i` of run `seed` on `format`. */
function caseSeed(seed: number, format: FuzzFormat, i: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b) ^
    Math.imul(FUZZ_FORMATS.indexOf(format) + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * The input of one case.
 *
 * @param format the format
 * @param seeds that format's seeds
 * @param seed the run's seed
 * @param i the case index
 * @returns the mutated input; sometimes a view at an odd offset into a larger buffer, to catch
 *   readers that ignore `byteOffset`
 */
export function caseInput(
  format: FuzzFormat,
  seeds: readonly Seed[],
  seed: number,
  i: number,
): Uint8Array {
  const r = rng(caseSeed(seed, format, i));
  const s = seeds[Math.floor(r() * seeds.length)]!;
  const bytes = mutate(s, r, seeds);
  if (format === "statedict" && r() < 0.6) repairZipCrcs(bytes);
  if (r() < 0.2) {
    const pad = 1 + Math.floor(r() * 7);
    const big = new Uint8Array(bytes.length + pad + 5);
    big.set(bytes, pad);
    return big.subarray(pad, pad + bytes.length);
  }
  return bytes;
}

/**
 * Saves a failing input as `<dir>/<format>-<sha256 prefix>.bin` (unless it exists).
 *
 * @returns the path written
 */
export function saveInput(dir: string, format: FuzzFormat, input: Uint8Array): string {
  const hash = createHash("sha256").update(input).digest("hex").slice(0, 12);
  const path = `${dir}/${format}-${hash}.bin`;
  Deno.mkdirSync(dir, { recursive: true });
  try {
    Deno.writeFileSync(path, input, { createNew: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  return path;
}

/** A failure's identity: error type, message with numbers blanked, first stack frame. */
function signature(kind: FailureKind, e: unknown): string {
  if (!(e instanceof Error)) return `${kind}: ${String(e)}`;
  const frame = e.stack?.split("\n").find((l) => l.includes("at ")) ?? "";
  return `${kind}: ${e.name}: ${e.message.replace(/\d+/g, "#")} ${frame.trim()}`;
}

function memoryInUse(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * Runs `runs` cases of one format.
 *
 * @param opts format, cases, seed, limits, where to save failures
 * @returns counts, failures (one per distinct signature) and timing
 * @example
 * ```ts ignore
 * import { fuzzFormat } from "./runner.ts";
 * const report = fuzzFormat({ format: "idx", runs: 1000, seed: 1 });
 * console.log(report.failures.length, report.msPerCase.toFixed(3));
 * ```
 */
export function fuzzFormat(opts: FuzzOptions): FuzzReport {
  const { format, runs, seed } = opts;
  const limitMs = opts.caseLimitMs ?? 1000;
  const memLimit = opts.caseMemoryLimit ?? 128 * 2 ** 20;
  const allocLimit = opts.caseAllocLimit ?? 64 * 2 ** 20;
  const target = opts.target ?? runTarget;
  const seeds = seedsOf(format);
  // The seeds themselves must load: otherwise every case is only an error path.
  for (const s of seeds) runTarget(format, s.bytes);
  const first = opts.firstCase ?? 0;
  const seen = new Set<string>();
  const failures: FuzzFailure[] = [];
  let valid = 0, rejected = 0, maxCaseMs = 0, maxCaseGrowth = 0, maxCaseAlloc = 0;
  const rss0 = Deno.memoryUsage().rss;
  const t0 = performance.now();
  for (let i = first; i < first + runs; i++) {
    const input = caseInput(format, seeds, seed, i);
    currentCase = { format, seed, caseIndex: i, input };
    const m0 = memoryInUse();
    const c0 = performance.now();
    let failure: [FailureKind, unknown] | undefined;
    let allocated = 0;
    try {
      allocated = countAllocations(() =>
        target(format, input, i % (opts.interpretEvery ?? 1) === 0)
      ).bytes;
      valid++;
    } catch (e) {
      allocated = allocatedBytesOf(e);
      if (isExpectedError(e)) rejected++;
      else failure = ["exception", e];
    }
    maxCaseAlloc = Math.max(maxCaseAlloc, allocated);
    if (!failure && allocated > allocLimit) {
      failure = ["memory", new Error(`case allocated ${(allocated / 2 ** 20).toFixed(0)} MiB`)];
    }
    const ms = performance.now() - c0;
    const growth = memoryInUse() - m0;
    maxCaseMs = Math.max(maxCaseMs, ms);
    maxCaseGrowth = Math.max(maxCaseGrowth, growth);
    if (!failure && ms > limitMs) failure = ["slow", new Error(`case took ${ms.toFixed(0)} ms`)];
    if (!failure && growth > memLimit) {
      failure = ["memory", new Error(`case grew memory by ${(growth / 2 ** 20).toFixed(0)} MiB`)];
    }
    if (failure) {
      const [kind, e] = failure;
      const sig = signature(kind, e);
      if (!seen.has(sig)) {
        seen.add(sig);
        const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        const savedAs = opts.saveDir ? saveInput(opts.saveDir, format, input) : undefined;
        failures.push({
          format,
          seed,
          caseIndex: i,
          kind,
          message,
          ...(savedAs ? { savedAs } : {}),
        });
      }
    }
    if (opts.onProgress && (i - first + 1) % (opts.progressEvery ?? 10000) === 0) {
      opts.onProgress(i - first + 1);
    }
  }
  currentCase = undefined;
  return {
    format,
    runs,
    valid,
    rejected,
    failures,
    msPerCase: (performance.now() - t0) / Math.max(1, runs),
    maxCaseMs,
    maxCaseGrowth,
    maxCaseAlloc,
    rssGrowth: Deno.memoryUsage().rss - rss0,
  };
}

/**
 * Runs one saved input through its format's whole path (the format is the file name's prefix,
 * as {@link saveInput} writes it).
 *
 * @param name the file name, e.g. `gguf-0a1b2c3d4e5f.bin`
 * @param bytes its contents
 * @returns "valid" or "rejected"; anything else throws
 */
export function replayInput(name: string, bytes: Uint8Array): "valid" | "rejected" {
  const format = FUZZ_FORMATS.find((f) => name.startsWith(`${f}-`));
  if (!format) throw new RangeError(`Cannot tell the format of '${name}'`);
  try {
    runTarget(format, bytes);
    return "valid";
  } catch (e) {
    if (isExpectedError(e)) return "rejected";
    throw e;
  }
}
