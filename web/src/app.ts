/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The page: wires the drawing pad, MNIST-style preprocessing, the compiled models, the chart and
 * the test set together. Everything runs on the main thread; a prediction takes well under a
 * millisecond, so live prediction while drawing only needs requestAnimationFrame throttling.
 *
 * The build generates the entry point that imports the compiled modules and calls {@link start}.
 *
 * @module
 */
import { formatPercent, ProbabilityChart } from "./chart.ts";
import { downloadPng, downloadRaw, paintInput } from "./download.ts";
import type { ModelEntry } from "./model.ts";
import { DrawingPad } from "./pad.ts";
import { preprocess } from "./preprocess.ts";
import { onPress } from "./press.ts";
import { inflateTestSet, type TestSet } from "./testset_format.ts";

/** What the page shows now; also exposed to the browser tests as `window.ggufcDemo.state`. */
export interface DemoState {
  /** Where the input came from. */
  source: "empty" | "drawing" | "sample";
  /** The 784-byte model input. */
  input: Uint8Array;
  /** Index of the active model in the list. */
  model: string;
  /** Predicted digit, or -1 when there is no input. */
  digit: number;
  /** A copy of the ten probabilities, or null. */
  probabilities: number[] | null;
  /** Test-set index and true label when source is "sample". */
  sampleIndex: number;
  label: number;
  /** Milliseconds of the last predict call. */
  lastMs: number;
}

/** Options of {@link start}. */
export interface StartOptions {
  /** URL of the packed test set. */
  testsetUrl?: string;
  /** URL of the build's description (web/build.ts writes it): graph pictures and compile reports. */
  buildUrl?: string;
}

/** What the page reads from build.json for each model (see `BuildResult` in web/build.ts). */
interface BuiltModel {
  id: string;
  /** The optimised graph's SVG, relative to the page, or null. */
  graph: string | null;
  report: { passes: string[]; arenaBytes: number; naiveBytes: number; moduleBytes: number } | null;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Missing element #${id}`);
  return el as T;
}

/** Short display names of the emitted module's backends. */
const BACKEND_NAMES: Record<string, string> = {
  "wasm-relaxed-simd": "WASM relaxed SIMD",
  "wasm-simd128": "WASM SIMD128",
  "ts": "TypeScript",
};

/** "29.6 kB", "1.59 MB". */
function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

/** "180 µs" below a millisecond, else "1.24 ms". */
function formatMs(ms: number): string {
  return ms < 1 ? `${Math.max(1, Math.round(ms * 1000))} µs` : `${ms.toFixed(2)} ms`;
}

/**
 * Starts the page.
 *
 * @param models the compiled models, in the order of the model switch
 * @param options where the test set lives
 * @returns resolves when the models are loaded and the page is interactive
 */
export async function start(models: ModelEntry[], options: StartOptions = {}): Promise<void> {
  const status = byId<HTMLParagraphElement>("status");
  const setStatus = (text: string, error = false) => {
    status.textContent = text;
    status.classList.toggle("error", error);
  };

  const available = models.filter((m) => m.module !== null);
  if (available.length === 0) {
    setStatus("No compiled model in this build: run `deno task web` with models/*.gguf.", true);
    return;
  }
  setStatus("Loading models…");
  await Promise.all(available.map((m) => m.module!.load()));
  // One untimed call each, so the shown time is the steady state, not the first (cold) call.
  for (const m of available) m.module!.predict(new Uint8Array(784));

  const pad = new DrawingPad(byId<HTMLCanvasElement>("pad"));
  const chart = new ProbabilityChart(byId("chart"));
  const preview = byId<HTMLCanvasElement>("input-preview");
  const digitEl = byId("digit"), confidenceEl = byId("confidence"), truthEl = byId("truth");
  const hint = byId("pad-hint"), sampleTag = byId("sample-tag");
  const timeEl = byId("time"), backendEl = byId("backend"), weightsEl = byId("weights");
  const randomBtn = byId<HTMLButtonElement>("random");

  let current = available[0]!;
  /** Mean predict time per model (exponential moving average; the browser's timer is coarse). */
  const meanMs = new Map<string, { mean: number; count: number }>();
  const state: DemoState = {
    source: "empty",
    input: new Uint8Array(784),
    model: current.id,
    digit: -1,
    probabilities: null,
    sampleIndex: -1,
    label: -1,
    lastMs: 0,
  };

  // The model switch: one radio per model, disabled when its file was missing at build time.
  const switcher = byId("models");
  for (const m of models) {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "model";
    radio.value = m.id;
    radio.id = `model-${m.id}`;
    radio.checked = m === current;
    radio.disabled = m.module === null;
    const text = document.createElement("span");
    text.textContent = m.label;
    const small = document.createElement("small");
    small.textContent = m.module === null ? "not built" : m.detail;
    text.append(small);
    label.title = m.file;
    label.append(radio, text);
    radio.addEventListener("change", () => {
      if (!radio.checked || !m.module) return;
      current = m;
      state.model = m.id;
      showModelStats();
      showGraph();
      predictNow();
    });
    switcher.append(label);
  }

  function showModelStats(): void {
    const mod = current.module!;
    const backend = mod.backend();
    backendEl.textContent = BACKEND_NAMES[backend] ?? backend;
    backendEl.title = backend;
    weightsEl.textContent = formatBytes(mod.info.weightBytes);
    weightsEl.title = `${mod.info.layout}, arena ${formatBytes(mod.info.arenaBytes)}`;
    const t = meanMs.get(current.id);
    timeEl.textContent = t ? formatMs(t.mean) : "–";
  }

  // "How the compiler sees this model": the optimised graph, drawn at build time in Deno.
  // It is shown through <img src>, never inlined with innerHTML: an SVG loaded as an image cannot
  // run script or load anything, whatever text (model and tensor names) ended up inside it.
  const graphImg = byId<HTMLImageElement>("graph-img");
  const graphLink = byId<HTMLAnchorElement>("graph-link");
  const graphCaption = byId("graph-caption");
  let built: Map<string, BuiltModel> | null = null;
  function showGraph(): void {
    if (!built) return;
    const b = built.get(current.id);
    if (!b?.graph) {
      graphImg.removeAttribute("src");
      graphLink.removeAttribute("href");
      graphImg.hidden = true;
      graphCaption.textContent = `No graph picture of ${current.label} in this build.`;
      return;
    }
    graphImg.hidden = false;
    graphImg.src = graphLink.href = b.graph;
    graphImg.dataset.model = current.id;
    const r = b.report;
    graphCaption.textContent = `${current.label} (${current.file}) after the graph passes. ` +
      (r
        ? `Passes applied: ${r.passes.join(", ") || "none"} · arena ${formatBytes(r.arenaBytes)} ` +
          `(${formatBytes(r.naiveBytes)} with one buffer per value) · module ${
            formatBytes(r.moduleBytes)
          }.`
        : "No compile report in this build.");
  }
  const buildLoad = (async () => {
    const res = await fetch(options.buildUrl ?? "build.json");
    if (!res.ok) throw new Error(`build.json: HTTP ${res.status}`);
    const json = await res.json() as { models: BuiltModel[] };
    built = new Map(json.models.map((m) => [m.id, m]));
    showGraph();
  })().catch((e) => {
    graphCaption.textContent = `Graph unavailable (${e instanceof Error ? e.message : e}).`;
  });

  /** Empties the verdict, the chart and the preview. */
  function showNothing(): void {
    state.digit = -1;
    state.probabilities = null;
    digitEl.textContent = "–";
    confidenceEl.textContent = "Waiting for a drawing";
    truthEl.textContent = "";
    chart.update(null);
    paintInput(preview, state.input);
  }

  /** Runs the active model on `state.input` and shows the result. */
  function predictNow(): void {
    if (state.source === "empty") {
      showNothing();
      return;
    }
    const mod = current.module!;
    const t0 = performance.now();
    const result = mod.predict(state.input);
    const ms = performance.now() - t0;
    state.lastMs = ms;
    const t = meanMs.get(current.id) ?? { mean: ms, count: 0 };
    t.count++;
    t.mean += (ms - t.mean) / Math.min(t.count, 20);
    meanMs.set(current.id, t);
    state.digit = result.digit;
    state.probabilities = Array.from(result.probabilities);
    digitEl.textContent = String(result.digit);
    confidenceEl.textContent = `${formatPercent(result.probabilities[result.digit]!)} sure`;
    timeEl.textContent = formatMs(t.mean);
    timeEl.title = `last call ${ms.toFixed(3)} ms; mean of ${t.count} calls`;
    chart.update(result.probabilities);
    paintInput(preview, state.input);
    if (state.source === "sample") {
      const ok = result.digit === state.label;
      truthEl.innerHTML = "";
      const mark = document.createElement("span");
      mark.className = ok ? "ok" : "wrong";
      mark.textContent = ok ? "correct" : "wrong";
      truthEl.append(`Test image #${state.sampleIndex}, true label ${state.label} · `, mark);
    } else {
      truthEl.textContent = "Your drawing, preprocessed like MNIST";
    }
  }

  /** Re-reads the pad (when it holds a drawing) and predicts. */
  function refresh(): void {
    if (state.source === "drawing") {
      // From the pen paths, not the painted pixels: the input is the same whatever the size
      // of the drawing and the width of the pen.
      const r = preprocess(pad.strokes());
      state.input = r.pixels;
      if (!r.box) state.source = "empty";
    }
    hint.classList.toggle("gone", state.source !== "empty");
    sampleTag.hidden = state.source !== "sample";
    predictNow();
  }

  // Live prediction: at most once per animation frame, however fast pointer events arrive.
  let framePending = false;
  const schedule = () => {
    if (framePending) return;
    framePending = true;
    requestAnimationFrame(() => {
      framePending = false;
      refresh();
    });
  };
  pad.onChange = schedule;
  pad.onStrokeStart = () => {
    if (state.source === "sample") {
      state.source = "drawing";
      pad.clear();
    }
    state.source = "drawing";
  };

  onPress(byId<HTMLButtonElement>("clear"), () => {
    state.source = "empty";
    state.input = new Uint8Array(784);
    state.sampleIndex = state.label = -1;
    pad.clear();
    refresh();
  });

  // The test set loads in the background; Random waits for it.
  let testset: TestSet | null = null;
  randomBtn.disabled = true;
  const testsetLoad = (async () => {
    const res = await fetch(options.testsetUrl ?? "testset.bin.gz");
    if (!res.ok) throw new Error(`test set: HTTP ${res.status}`);
    const gz = new Uint8Array(await res.arrayBuffer());
    testset = await inflateTestSet(gz);
    byId("testset-size").textContent = formatBytes(gz.length);
    randomBtn.disabled = false;
    document.body.dataset.testset = "ready";
  })();

  onPress(randomBtn, () => {
    if (!testset) return;
    const i = Math.floor(Math.random() * testset.count);
    showSample(i);
  });

  /** Shows test image `i` and its prediction. */
  function showSample(i: number): void {
    const set = testset!;
    state.source = "sample";
    state.sampleIndex = i;
    state.label = set.labels[i]!;
    state.input = set.pixels.slice(784 * i, 784 * (i + 1));
    sampleTag.textContent = `MNIST test #${i} · label ${state.label}`;
    pad.showImage(state.input);
    refresh();
  }

  // Keyboard: Escape or Delete clears, R shows a random test digit.
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape" || e.key === "Delete") byId("clear").click();
    else if (e.key === "r" || e.key === "R") randomBtn.click();
  });

  const fileBase = () =>
    state.source === "sample" ? `mnist-test-${state.sampleIndex}` : "ggufc-drawing";
  onPress(
    byId<HTMLButtonElement>("download-png"),
    () => downloadPng(state.input, `${fileBase()}.png`),
  );
  onPress(
    byId<HTMLButtonElement>("download-raw"),
    () => downloadRaw(state.input, `${fileBase()}-28x28.u8`),
  );

  showModelStats();
  showNothing();
  // For the browser tests and the curious: read-only access to what the page shows.
  Object.assign(globalThis, {
    ggufcDemo: { state, showSample, models: models.map((m) => m.id) },
  });
  document.body.dataset.ready = "1";
  setStatus(`Ready · ${available.length} of ${models.length} models loaded · loading test set…`);
  await buildLoad;
  try {
    await testsetLoad;
    const set = testset as TestSet | null;
    setStatus(
      `Ready · ${available.length} of ${models.length} models · ${
        (set?.count ?? 0).toLocaleString("en")
      } test images`,
    );
  } catch (e) {
    setStatus(`Test set unavailable (${e instanceof Error ? e.message : e}); drawing still works`);
  }
}
