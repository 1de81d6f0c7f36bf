/**
 * `deno task fuzz [--runs N] [--seed S] [--format gguf|legacy|idx|statedict|all] [--first I]
 * [--save DIR]`: the deterministic mutation fuzzer. Prints per format the cases run, how many
 * loaded and how many were rejected with a format error, the time per case and every distinct
 * failure (seed, case number, saved input); with gguf, also the crafted cases (crafted.ts:
 * aliased tensor offsets, control characters in strings). Exits 1 when anything failed.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { currentCase, fuzzFormat, saveInput } from "./fuzz/runner.ts";
import { FUZZ_FORMATS, type FuzzFormat } from "./fuzz/types.ts";
import { aliasedOffsetCases, controlCharCases } from "./fuzz/crafted.ts";
import { seedsOf } from "./fuzz/seeds.ts";
import { isExpectedError, runTarget } from "./fuzz/targets.ts";

/**
 * The crafted GGUF cases (crafted.ts): aliased offsets must be rejected, control characters
 * in strings must load or be rejected. Returns the number of failures, printed.
 */
function runCrafted(): number {
  const seeds = seedsOf("gguf");
  let failed = 0;
  const families = [
    ["aliased-offsets", aliasedOffsetCases(seeds), true],
    ["control-chars", controlCharCases(seeds), false],
  ] as const;
  for (const [family, cases, mustReject] of families) {
    let valid = 0, rejected = 0;
    for (const c of cases) {
      try {
        runTarget("gguf", c.bytes, false);
        valid++;
        if (mustReject) {
          failed++;
          console.log(`  FAIL ${c.name}: loaded`);
        }
      } catch (e) {
        if (isExpectedError(e)) rejected++;
        else {
          failed++;
          console.log(`  FAIL ${c.name}: ${e}`);
        }
      }
    }
    console.log(
      `gguf ${family}: ${cases.length} crafted cases: ${valid} valid, ${rejected} rejected`,
    );
  }
  return failed;
}

const DEFAULT_SAVE_DIR = fileURLToPath(new URL("../tests/fixtures/fuzz", import.meta.url));

const USAGE = `usage: deno task fuzz [--runs N] [--seed S] [--format gguf|legacy|idx|statedict|all]
                      [--first I] [--save DIR]
  --runs N    cases per format (default 10000)
  --seed S    run seed: the same seed and case index give the same input (default 1)
  --first I   first case index, e.g. to replay case I alone with --runs 1
  --save DIR  where failing inputs go (default tests/fixtures/fuzz)`;

function parseArgs(args: string[]) {
  const opts = {
    runs: 10000,
    seed: 1,
    first: 0,
    formats: [...FUZZ_FORMATS],
    save: DEFAULT_SAVE_DIR,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!, v = args[i + 1];
    const num = () => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new Error(`${a} needs a whole number, got '${v}'`);
      }
      i++;
      return n;
    };
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else if (a === "--runs") opts.runs = num();
    else if (a === "--seed") opts.seed = num();
    else if (a === "--first") opts.first = num();
    else if (a === "--save" && v !== undefined) opts.save = (i++, v);
    else if (a === "--format" && v !== undefined) {
      i++;
      if (v === "all") opts.formats = [...FUZZ_FORMATS];
      else if ((FUZZ_FORMATS as readonly string[]).includes(v)) opts.formats = [v as FuzzFormat];
      else throw new Error(`--format must be one of ${FUZZ_FORMATS.join(", ")} or all, got '${v}'`);
    } else throw new Error(`unknown argument '${a}'`);
  }
  return opts;
}

if (import.meta.main) {
  let opts;
  try {
    opts = parseArgs(Deno.args);
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}`);
    console.error(USAGE);
    Deno.exit(2);
  }
  // A hang never returns to the loop: Ctrl-C saves and names the case that hung.
  Deno.addSignalListener("SIGINT", () => {
    if (currentCase) {
      const path = saveInput(opts.save, currentCase.format, currentCase.input);
      console.error(
        `\nfuzz: interrupted in ${currentCase.format} seed ${currentCase.seed} case ${currentCase.caseIndex}; input saved as ${path}`,
      );
    }
    Deno.exit(130);
  });
  let failed = 0;
  for (const format of opts.formats) {
    const report = fuzzFormat({
      format,
      runs: opts.runs,
      seed: opts.seed,
      firstCase: opts.first,
      saveDir: opts.save,
      progressEvery: 100000,
      onProgress: (n) => console.error(`  ${format}: ${n} cases`),
    });
    console.log(
      `${format}: ${report.runs} cases (seed ${opts.seed}, from case ${opts.first}): ` +
        `${report.valid} valid, ${report.rejected} rejected, ${report.failures.length} failures; ` +
        `${report.msPerCase.toFixed(3)} ms/case, slowest ${report.maxCaseMs.toFixed(1)} ms, ` +
        `max growth per case ${(report.maxCaseGrowth / 2 ** 20).toFixed(1)} MiB, ` +
        `max allocated per case ${(report.maxCaseAlloc / 2 ** 20).toFixed(1)} MiB, ` +
        `rss growth ${(report.rssGrowth / 2 ** 20).toFixed(0)} MiB`,
    );
    for (const f of report.failures) {
      console.log(
        `  FAIL ${f.kind} seed ${f.seed} case ${f.caseIndex}: ${f.message}` +
          (f.savedAs ? ` (saved ${f.savedAs})` : ""),
      );
    }
    failed += report.failures.length;
  }
  if (opts.formats.includes("gguf")) failed += runCrafted();
  Deno.exit(failed > 0 ? 1 : 0);
}
