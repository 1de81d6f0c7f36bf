import assert from "node:assert/strict";
import { caseInput, fuzzFormat, replayInput } from "../tools/fuzz/runner.ts";
import { seedsOf } from "../tools/fuzz/seeds.ts";
import { runTarget } from "../tools/fuzz/targets.ts";
import { countAllocations } from "../tools/fuzz/alloc_counter.ts";
import { FUZZ_FORMATS } from "../tools/fuzz/types.ts";

/** Cases per format in CI (the issue asks for at least 10,000). */
const RUNS = 10_000;
/**
 * Bytes one case may allocate (counted by alloc_counter.ts, so the bound is exact on any
 * machine). The seeds are under 10 KB and the largest honest amplification (q4 -> f32
 * dequantisation plus graph and interpreter buffers) stays under 4 MiB; an allocation sized
 * from a hostile count asks for far more. Time and heap growth depend on the machine: the
 * `deno task fuzz` tool checks them, CI does not.
 */
const CASE_ALLOC_LIMIT = 64 * 2 ** 20;

for (const format of FUZZ_FORMATS) {
  Deno.test(`the fuzzer's ${format} seeds load, and ${RUNS} mutated ${format} inputs end in a result or a FormatError`, () => {
    const report = fuzzFormat({
      format,
      runs: RUNS,
      seed: 1,
      caseLimitMs: Infinity,
      caseMemoryLimit: Infinity,
      caseAllocLimit: CASE_ALLOC_LIMIT,
      // The interpreter run is the costly part of a valid case; every 16th keeps CI short.
      interpretEvery: 16,
    });
    console.log(
      `${format}: ${report.runs} cases, ${report.valid} valid, ${report.rejected} rejected, ` +
        `${report.msPerCase.toFixed(3)} ms/case, at most ${report.maxCaseAlloc} bytes allocated`,
    );
    const how = "reproduce: deno task fuzz --format F --seed S --first CASE --runs 1";
    assert.deepEqual(report.failures, [], how);
    assert.equal(report.valid + report.rejected, RUNS);
    // Both outcomes must occur, or the mutations are too weak (or too strong) to test anything.
    assert.ok(report.valid > RUNS / 20, `only ${report.valid} valid cases`);
    assert.ok(report.rejected > RUNS / 5, `only ${report.rejected} rejected cases`);
    assert.ok(report.maxCaseAlloc < CASE_ALLOC_LIMIT, `${report.maxCaseAlloc} bytes`);
  });
}

Deno.test("fuzz cases are deterministic: the same seed and case index give the same input", () => {
  for (const format of FUZZ_FORMATS) {
    const seeds = seedsOf(format);
    for (const i of [0, 1, 977]) {
      assert.deepEqual(caseInput(format, seeds, 5, i), caseInput(format, seeds, 5, i));
    }
    assert.notDeepEqual(caseInput(format, seeds, 5, 3), caseInput(format, seeds, 6, 3));
  }
});

Deno.test("the fuzzer reports a planted TypeError and a big allocation, each once", () => {
  const planted = (kind: "throw" | "alloc" | "array") => (f: "idx", b: Uint8Array, i: boolean) => {
    if (b.length % 7 === 3) {
      if (kind === "throw") throw new TypeError("planted");
      if (kind === "alloc") new Float32Array(2 * 2 ** 20); // 8 MiB
      if (kind === "array") new Array(2 ** 20); // 8 MiB of slots
    }
    runTarget(f, b, i);
  };
  const run = (kind: "throw" | "alloc" | "array") =>
    fuzzFormat({
      format: "idx",
      runs: 200,
      seed: 1,
      caseLimitMs: Infinity,
      caseMemoryLimit: Infinity,
      caseAllocLimit: 4 * 2 ** 20,
      target: planted(kind) as never,
    }).failures;
  const thrown = run("throw");
  assert.equal(thrown.length, 1, "one distinct failure, reported once");
  assert.equal(thrown[0]!.kind, "exception");
  assert.match(thrown[0]!.message, /TypeError: planted/);
  for (const kind of ["alloc", "array"] as const) {
    const failures = run(kind);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.kind, "memory");
    assert.match(failures[0]!.message, /allocated 8 MiB/);
  }
});

const FIXTURES = new URL("./fixtures/fuzz/", import.meta.url);

Deno.test("every saved fuzz input (tests/fixtures/fuzz) ends in a result or a FormatError, allocating at most 64 MiB", () => {
  const names = [...Deno.readDirSync(FIXTURES)].map((e) => e.name).filter((n) => n.endsWith(".bin"))
    .sort();
  const readme = Deno.readTextFileSync(new URL("README.md", FIXTURES));
  for (const name of names) {
    assert.ok(readme.includes(name), `${name} has a line in tests/fixtures/fuzz/README.md`);
    const bytes = Deno.readFileSync(new URL(name, FIXTURES));
    const { bytes: allocated } = countAllocations(() => replayInput(name, bytes));
    assert.ok(allocated < CASE_ALLOC_LIMIT, `${name} allocated ${allocated} bytes`);
  }
});
