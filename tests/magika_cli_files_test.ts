/**
 * `ggufc run` and `ggufc eval` on models/magika.gguf with real files from
 * ../shared/fixtures/magika (skipped with a note when absent), against ggml's results in
 * ggml-magika.tsv: the top label ggml gives, every probability within 2e-3 (ggml's f16 gelu
 * table moves them by up to ~1e-3; see magika_reference_test.ts). Engines: the reference
 * interpreter (~0.2 s per file, so a handful of files) and the compiled WASM module (all 77
 * files). Also the windowed read of large files (cli/file_sample.ts) against fileTokens of the
 * whole file.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { main } from "../main.ts";
import { EXIT_FORMAT_ERROR, EXIT_USAGE_ERROR } from "../ggml/errors.ts";
import { MAGIKA_LABELS } from "../compiler/frontend/magika_graph.ts";
import { fileTokens } from "../compiler/emit/runtime/byte_tokens.ts";
import { readFileSample, sampleWindows } from "../cli/file_sample.ts";
import { formatTopLine, shortestF32 } from "../cli/classify_files.ts";
import { rng } from "../testkit/random.ts";

const FIXTURE = "../shared/fixtures/magika";
let haveFixtures = true;
try {
  Deno.statSync(`${FIXTURE}/ggml-magika.tsv`);
} catch {
  haveFixtures = false;
  console.log(`note: ${FIXTURE} absent; the Magika run/eval tests on real files are skipped`);
}

/** Files of different kinds: text, source code, binary, an empty file. */
const FILES = [
  "tests_data/basic/asm/code.asm",
  "tests_data/basic/pdf/magika_test.pdf",
  "tests_data/basic/empty/empty_file",
];
const TOLERANCE = 2e-3;

async function ggmlRows(): Promise<Map<string, { label: string; probs: number[] }>> {
  const text = await Deno.readTextFile(`${FIXTURE}/ggml-magika.tsv`);
  return new Map(
    text.trim().split("\n").map((line) => {
      const [path, label, ...probs] = line.split("\t");
      return [path!, { label: label!, probs: probs.map(Number) }];
    }),
  );
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    return { code: await main(args), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test({
  name: "run --json: ggml's top label and probabilities within 2e-3; a missing file is one line",
  ignore: !haveFixtures,
  async fn() {
    const rows = await ggmlRows();
    const paths = FILES.map((f) => `${FIXTURE}/${f}`);
    const missing = `${FIXTURE}/no-such-file`;
    const r = await cli([
      "run",
      "models/magika.gguf",
      paths[0]!,
      missing,
      ...paths.slice(1),
      "--json",
      "--engine",
      "interpreter",
    ]);
    assertEquals(r.code, EXIT_USAGE_ERROR);
    assertEquals(r.err, [`ggufc run: file '${missing}' does not exist`]);
    assertEquals(r.out.length, FILES.length);
    FILES.forEach((file, i) => {
      const got = JSON.parse(r.out[i]!);
      const want = rows.get(file)!;
      assertEquals(Object.keys(got), ["file", "label", "score", "probabilities"]);
      assertEquals(got.file, paths[i]);
      assertEquals(got.label, want.label, file);
      assertEquals(got.probabilities.length, MAGIKA_LABELS.length);
      const k = MAGIKA_LABELS.indexOf(got.label);
      assertEquals(got.score, got.probabilities[k]);
      const worst = Math.max(
        ...got.probabilities.map((p: number, j: number) => Math.abs(p - want.probs[j]!)),
      );
      assert(worst <= TOLERANCE, `${file}: |dp| ${worst}`);
    });
  },
});

Deno.test({
  name: "run: ggml's text line per file (name padded to 30, top 5 with percentages)",
  ignore: !haveFixtures,
  async fn() {
    const rows = await ggmlRows();
    const file = FILES[0]!, path = `${FIXTURE}/${file}`;
    const r = await cli(["run", "models/magika.gguf", path, "--engine", "interpreter"]);
    assertEquals(r.code, 0, r.err.join("\n"));
    assertEquals(r.out.length, 1);
    const line = r.out[0]!;
    assert(line.startsWith(`${path}: ${rows.get(file)!.label} (`), line);
    const parts = [...line.matchAll(/ ([a-z0-9]+) \((\d+\.\d\d)%\)/g)];
    assertEquals(parts.length, 5, line);
    // Each percentage is the interpreter's, within 2e-3 of ggml's probability (0.2 points).
    for (const [, label, pct] of parts) {
      const want = rows.get(file)!.probs[MAGIKA_LABELS.indexOf(label!)]!;
      assert(Math.abs(Number(pct) / 100 - want) <= TOLERANCE + 5e-5, `${label} ${pct} vs ${want}`);
    }
    // ggml's padding: a short name is padded to 30 columns.
    const probs = new Float32Array(113);
    probs[3] = 1;
    assert(
      formatTopLine("a.asm", probs, MAGIKA_LABELS).startsWith(
        "a.asm" + " ".repeat(25) + ": asm (100.00%) ai (0.00%)",
      ),
    );
  },
});

Deno.test({
  name: "eval --files --expect: agreement and largest difference; a file without a row fails",
  ignore: !haveFixtures,
  sanitizeResources: false,
  async fn() {
    const rows = await ggmlRows();
    const dir = await Deno.makeTempDir({ prefix: "ggufc_magika_eval_" });
    try {
      // The TSV's paths are relative to its folder: copy two files and their rows.
      const tsv: string[] = [];
      for (const f of FILES.slice(0, 2)) {
        await Deno.mkdir(`${dir}/${f.replace(/\/[^/]*$/, "")}`, { recursive: true });
        await Deno.copyFile(`${FIXTURE}/${f}`, `${dir}/${f}`);
        const row = rows.get(f)!;
        tsv.push([f, row.label, ...row.probs].join("\t"));
      }
      await Deno.writeTextFile(`${dir}/expected.tsv`, tsv.join("\n") + "\n");
      const args = [
        "eval",
        "models/magika.gguf",
        "--files",
        `${dir}/tests_data`,
        "--expect",
        `${dir}/expected.tsv`,
        "--engine",
        "interpreter",
      ];
      const ok = await cli([...args, "--json"]);
      assertEquals(ok.code, 0, ok.err.join("\n"));
      const figures = JSON.parse(ok.out[0]!);
      assertEquals([figures.files, figures.compared, figures.agree], [2, 2, 2]);
      assert(figures.maxDiff > 0 && figures.maxDiff <= TOLERANCE, String(figures.maxDiff));

      // A wrong expectation shows as a disagreement, not as an error.
      const wrong = tsv[0]!.replace(/\tasm\t/, "\tpdf\t");
      await Deno.writeTextFile(`${dir}/expected.tsv`, [wrong, tsv[1]].join("\n"));
      const text = await cli(args);
      assertEquals(text.code, 0, text.err.join("\n"));
      assertEquals(text.out[0]!.split("\n").slice(0, 2), [
        "2 of 2 files compared (engine interpreter)",
        "top label agrees on 1/2 files (50.00 %)",
      ]);
      assert(text.out[0]!.includes("disagrees: tests_data/basic/asm/code.asm: asm, expected pdf"));

      // A file without a row: one line naming it, the other file still compared, exit 2.
      await Deno.writeTextFile(`${dir}/expected.tsv`, tsv[1]! + "\n");
      const norow = await cli(args);
      assertEquals(norow.code, EXIT_USAGE_ERROR);
      assertEquals(norow.err.length, 1);
      assert(norow.err[0]!.includes("code.asm' has no row in"), norow.err[0]);
      assert(norow.out[0]!.startsWith("1 of 2 files compared"), norow.out[0]);

      // A malformed TSV: one line naming the line, exit 3.
      await Deno.writeTextFile(`${dir}/expected.tsv`, tsv[0]!.split("\t").slice(0, 50).join("\t"));
      const bad = await cli(args);
      assertEquals(bad.code, EXIT_FORMAT_ERROR);
      assertEquals(bad.err.length, 1);
      assert(
        bad.err[0]!.includes("line 1: probabilities: expected 113 values, found 48"),
        bad.err[0],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "eval on the compiled module (default wasm engine): all 77 fixture files agree with ggml",
  ignore: !haveFixtures,
  async fn() {
    const r = await cli([
      "eval",
      "models/magika.gguf",
      "--files",
      `${FIXTURE}/tests_data/basic`,
      "--expect",
      `${FIXTURE}/ggml-magika.tsv`,
      "--json",
    ]);
    assertEquals(r.code, 0, r.err.join("\n"));
    const f = JSON.parse(r.out[0]!);
    assert(f.engine.startsWith("wasm"), f.engine);
    assertEquals([f.files, f.compared, f.agree, f.disagreements], [77, 77, 77, []]);
    assert(f.maxDiff <= TOLERANCE, `largest |dp| ${f.maxDiff}`);
  },
});

Deno.test("readFileSample: large files read as 1536 bytes give the whole file's tokens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ggufc_sample_" });
  try {
    const rand = rng(13);
    for (const size of [0, 1, 511, 512, 1000, 1535, 1536, 1537, 1538, 2049, 4096, 100_001]) {
      const bytes = Uint8Array.from({ length: size }, () => Math.floor(rand() * 256));
      const path = `${dir}/f${size}`;
      await Deno.writeFile(path, bytes);
      const sample = await readFileSample(path);
      assertEquals(sample.size, size);
      assertEquals(sample.bytes.length, Math.min(size, 1536));
      assertEquals(fileTokens(sample.bytes), fileTokens(bytes), `size ${size}`);
      assertEquals(sampleWindows(size).length, size > 1536 ? 3 : 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shortestF32: the shortest decimal that reads back as the same float32", () => {
  assertEquals(shortestF32(Math.fround(0.1)), 0.1);
  assertEquals(shortestF32(1), 1);
  assertEquals(shortestF32(0), 0);
  for (const x of [1.566718e-14, 0.99413437, 3.4e38, 1e-45]) {
    const f = Math.fround(x);
    assertEquals(Math.fround(shortestF32(f)), f);
    assert(String(shortestF32(f)).length <= 15, String(shortestF32(f)));
  }
});
