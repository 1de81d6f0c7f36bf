/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * "What is this file?": files dropped on the page or picked are classified in the page by the
 * compiled Magika module (web/dist/magika.js, its own file so its worker pool can start workers
 * on it). Only the 1.5 KiB Magika reads of each file are read (Blob slices, file_sample.ts);
 * nothing leaves the page. One file runs on the main thread; several at once go to the
 * module's worker pool (`createPool`).
 *
 * @module
 */
import type { FileBatchPrediction, FilePool, FilePrediction } from "./magika_types.ts";
import { blobSample } from "./file_sample.ts";
import { onPress } from "./press.ts";

/** The compiled Magika module's API as the page uses it. */
export interface MagikaModule {
  load(): Promise<void>;
  backend(): string;
  readonly info: { readonly labels?: readonly string[] };
  predict(bytes: Uint8Array): FilePrediction;
  predictBatch(files: readonly Uint8Array[]): FileBatchPrediction;
  createPool(n: number): Promise<FilePool>;
}

/** One file's result as shown; `window.ggufcFiles.results` holds them for the browser tests. */
export interface FileResult {
  name: string;
  size: number;
  label: string;
  score: number;
  /** The top labels shown, with their probabilities. */
  top: { label: string; p: number }[];
  /** Milliseconds per file (a batch's time divided by its files on the pool). */
  ms: number;
  /** "main thread" or "N workers". */
  ranOn: string;
}

/** Labels shown per file. */
const TOP = 5;
/** Files at once from which the pool is used. */
const POOL_FROM = 2;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Missing element #${id}`);
  return el as T;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function sizeText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** Label indices by descending probability (ties in label order). */
function ranked(p: Float32Array): number[] {
  return Array.from(p.keys()).sort((a, b) => p[b]! - p[a]! || a - b);
}

/** One result card: name, size, the top label and bars for the top labels, the time. */
function card(r: FileResult): HTMLElement {
  const root = el("article", "file-card");
  root.dataset.label = r.label;
  const head = el("div", "file-head");
  head.append(el("span", "file-name", r.name), el("span", "file-size", sizeText(r.size)));
  const verdict = el("div", "file-verdict");
  verdict.append(
    el("span", "file-label", r.label),
    el("span", "file-score", `${(r.score * 100).toFixed(1)} %`),
  );
  const bars = el("div", "file-bars");
  for (const t of r.top) {
    const row = el("div", "file-bar");
    const track = el("div", "file-bar-track");
    const fill = el("div", "file-bar-fill");
    fill.style.width = `${Math.max(0.5, t.p * 100).toFixed(1)}%`;
    track.append(fill);
    row.append(
      el("span", "file-bar-label", t.label),
      track,
      el("span", "file-bar-pct", `${(t.p * 100).toFixed(2)} %`),
    );
    bars.append(row);
  }
  const time = el("div", "file-time", `${r.ms.toFixed(2)} ms per file · ${r.ranOn}`);
  root.append(head, verdict, bars, time);
  return root;
}

/**
 * Starts the page with the Magika module at `moduleUrl`.
 *
 * @param moduleUrl the bundled module, served as its own file
 */
export async function startFiles(moduleUrl: string): Promise<void> {
  const status = byId("status");
  const m = await import(moduleUrl) as MagikaModule;
  await m.load();
  const labels = m.info.labels ?? [];
  const results: FileResult[] = [];
  const api = { results, ready: true, busy: false };
  (globalThis as unknown as { ggufcFiles: typeof api }).ggufcFiles = api;
  const workers = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 4));
  // Started now, so its start-up (a module instance per worker) is not timed as inference.
  let pool: Promise<FilePool> | undefined = m.createPool(workers);
  pool.catch(() => (pool = undefined)); // retried on the next batch
  byId("backend").textContent = m.backend();
  status.textContent = "Ready: drop files or pick them.";

  const list = byId("results");
  const classify = async (files: File[]) => {
    if (files.length === 0) return;
    api.busy = true;
    status.textContent = `Reading ${files.length} file${files.length === 1 ? "" : "s"}…`;
    try {
      const samples = await Promise.all(files.map(blobSample));
      const workerPool = files.length >= POOL_FROM ? await (pool ??= m.createPool(workers)) : null;
      const t0 = performance.now();
      let probs: Float32Array;
      let ranOn: string;
      if (workerPool) {
        probs = (await workerPool.predictBatch(samples)).probabilities;
        ranOn = `${files.length} files on ${workers} workers`;
      } else {
        probs = m.predict(samples[0]!).probabilities;
        ranOn = "main thread";
      }
      const ms = (performance.now() - t0) / files.length;
      const n = labels.length;
      const fresh = files.map((f, i): FileResult => {
        const p = probs.subarray(i * n, (i + 1) * n);
        const order = ranked(p).slice(0, TOP);
        return {
          name: f.name,
          size: f.size,
          label: labels[order[0]!]!,
          score: p[order[0]!]!,
          top: order.map((k) => ({ label: labels[k]!, p: p[k]! })),
          ms,
          ranOn,
        };
      });
      results.unshift(...fresh);
      list.prepend(...fresh.map(card));
      byId("time").textContent = `${ms.toFixed(2)} ms`;
      status.textContent = `Classified ${files.length} file${files.length === 1 ? "" : "s"} ` +
        `(${ranOn}).`;
    } catch (e) {
      status.textContent = `Could not classify: ${e instanceof Error ? e.message : e}`;
      status.classList.add("error");
    } finally {
      api.busy = false;
    }
  };

  const pick = byId<HTMLInputElement>("pick");
  pick.addEventListener("change", () => {
    const files = [...(pick.files ?? [])];
    pick.value = "";
    void classify(files);
  });
  onPress(byId("choose"), () => pick.click());
  const drop = byId("drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    void classify([...(e.dataTransfer?.files ?? [])]);
  });
  // A file dropped outside the zone must not make the browser navigate to it.
  globalThis.addEventListener("dragover", (e) => e.preventDefault());
  globalThis.addEventListener("drop", (e) => e.preventDefault());
  onPress(byId("clear"), () => {
    results.length = 0;
    list.replaceChildren();
  });
}
