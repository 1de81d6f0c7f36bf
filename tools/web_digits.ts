/// <reference lib="dom" />
/**
 * `deno run -A tools/web_digits.ts [--per-digit N] [--out FILE]`: how well the web demo reads
 * digits drawn at different sizes and places. Takes, for each digit 0-9, the first N MNIST test
 * images (default 6: 60 images) that all three demo models classify correctly when given the image
 * directly, traces each into pen strokes (tests/helpers/trace_digit.ts), draws them on the page in
 * headless Chromium at every placement of tests/helpers/draw_digit.ts, and runs every model on the
 * page's 28x28 input. Prints the accuracy per model and placement as a Markdown table, and the
 * misread images; `--out` also saves every input (JSON) for pictures.
 *
 * The page is built with web/build.ts (cached) unless GGUFC_WEB_DIST names a built folder.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { launchChromium } from "../testkit/chromium.ts";
import { drawStrokes, PLACEMENTS, placeStrokes } from "../testkit/draw_digit.ts";
import { traceDigit } from "../testkit/trace_digit.ts";
import { type BuildResult, buildWeb } from "../web/build.ts";
import { serveWeb } from "../web/serve.ts";
import type { EmittedModule } from "../web/src/model.ts";
import { loadMnistTestSet } from "../web/testset.ts";

const USAGE = "usage: deno run -A tools/web_digits.ts [--per-digit N] [--out FILE]";

function parseArgs(args: string[]): { perDigit: number; out: string | null } {
  const opts = { perDigit: 6, out: null as string | null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!, v = args[i + 1];
    if (a === "--per-digit") {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new Error(`--per-digit needs N >= 1, got '${v}'`);
      }
      opts.perDigit = n;
      i++;
    } else if (a === "--out") {
      if (!v) throw new Error("--out needs a file name");
      opts.out = v;
      i++;
    } else throw new Error(`unknown argument '${a}'\n${USAGE}`);
  }
  return opts;
}

/** The built page and its compiled modules, loaded here in Deno. */
async function demoBuild(): Promise<{ root: string; modules: Map<string, EmittedModule> }> {
  const prebuilt = Deno.env.get("GGUFC_WEB_DIST");
  let build: BuildResult;
  if (prebuilt) {
    build = JSON.parse(await Deno.readTextFile(`${prebuilt}/build.json`)) as BuildResult;
    for (const m of build.models) if (m.module) m.module = `${prebuilt}/${m.module}`;
  } else build = await buildWeb({ log: () => {} });
  const modules = new Map<string, EmittedModule>();
  for (const m of build.models) {
    if (!m.module) throw new Error(`model ${m.file} is missing from models/`);
    const mod = await import(pathToFileURL(m.module).href) as EmittedModule;
    await mod.load();
    modules.set(m.id, mod);
  }
  return { root: prebuilt ?? build.outDir, modules };
}

/**
 * For each digit, the first `perDigit` test images every model classifies correctly.
 *
 * @returns test-set indices, digit by digit
 */
export function pickImages(
  modules: Iterable<EmittedModule>,
  perDigit: number,
): number[] {
  const test = loadMnistTestSet();
  const mods = [...modules];
  const picked: number[] = [];
  for (let d = 0; d < 10; d++) {
    let n = 0;
    for (let i = 0; i < test.count && n < perDigit; i++) {
      if (test.labels[i] !== d) continue;
      const img = test.pixels.slice(784 * i, 784 * i + 784);
      if (mods.every((m) => m.predict(img).digit === d)) {
        picked.push(i);
        n++;
      }
    }
  }
  return picked;
}

/** The page's model input after the last drawing. */
async function pageInput(page: Page): Promise<Uint8Array> {
  const input = await page.evaluate(async () => {
    // The page predicts in the next animation frame after a change.
    await new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
    const s = (globalThis as unknown as { ggufcDemo: { state: { input: Uint8Array } } }).ggufcDemo
      .state;
    return Array.from(s.input);
  });
  return Uint8Array.from(input);
}

if (import.meta.main) {
  let opts;
  try {
    opts = parseArgs(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(2);
  }
  const { root, modules } = await demoBuild();
  const test = loadMnistTestSet();
  const images = pickImages(modules.values(), opts.perDigit);
  console.log(`images (${images.length}): ${images.join(", ")}`);
  const ac = new AbortController();
  const { server, url } = serveWeb({ root, port: 0, signal: ac.signal });
  const browser = await launchChromium();
  const inputs: Record<string, number[][]> = {};
  const correct = new Map<string, number>();
  const misread: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
    await page.goto(url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
    for (const place of PLACEMENTS) {
      console.error(`drawing at ${place.name}…`);
      inputs[place.name] = [];
      for (const [n, i] of images.entries()) {
        const strokes = traceDigit(test.pixels.subarray(784 * i, 784 * i + 784));
        await page.click("#clear");
        await drawStrokes(page, placeStrokes(strokes, place, n), place.pressure);
        const input = await pageInput(page);
        inputs[place.name]!.push(Array.from(input));
        for (const [id, mod] of modules) {
          const got = mod.predict(input).digit;
          const key = `${id}\t${place.name}`;
          if (got === test.labels[i]) correct.set(key, (correct.get(key) ?? 0) + 1);
          else misread.push(`${id} ${place.name}: #${i} (${test.labels[i]}) read as ${got}`);
        }
      }
    }
  } finally {
    await browser.close();
    ac.abort();
    await server.finished;
  }
  const ids = [...modules.keys()];
  console.log(`\n| placement | ${ids.join(" | ")} |\n| --- |${" ---: |".repeat(ids.length)}`);
  for (const place of PLACEMENTS) {
    const cells = ids.map((id) => {
      const c = correct.get(`${id}\t${place.name}`) ?? 0;
      return `${c}/${images.length} (${(100 * c / images.length).toFixed(1)} %)`;
    });
    console.log(`| ${place.name} | ${cells.join(" | ")} |`);
  }
  console.log(`\nmisread (${misread.length}):\n${misread.join("\n")}`);
  if (opts.out) {
    await Deno.writeTextFile(opts.out, JSON.stringify({ images, inputs }));
    console.log(`inputs saved to ${opts.out}`);
  }
}
