/**
 * The latency bar chart of BENCHMARKS.md: one panel per model, one horizontal bar per engine,
 * microseconds per digit on a log scale (the reference interpreter is three orders of
 * magnitude slower than the compiled module, so a linear axis would hide everything else).
 * Drawn as SVG here and rasterised by the graph renderer's resvg + DejaVu Sans loader.
 *
 * @example
 * ```ts ignore
 * import { latencyChartPng } from "./chart.ts";
 * const png = await latencyChartPng([
 *   { title: "mnist-fc", bars: [{ label: "wasm", micros: 12, highlight: true }] },
 * ]);
 * await Deno.writeFile("bench/latency.png", png);
 * ```
 *
 * @module
 */
import { svgToPng } from "../render/render.ts";
import { FONT_FAMILY } from "../render/dot.ts";

/** One bar: an engine's per-digit latency. */
export interface ChartBar {
  /** Row label, e.g. `ort-node-2t`. */
  readonly label: string;
  /** Microseconds per digit (> 0). */
  readonly micros: number;
  /** Draws the bar in the accent colour (our WASM module). */
  readonly highlight?: boolean;
}

/** One panel: a model and its bars, top to bottom. */
export interface ChartPanel {
  readonly title: string;
  readonly bars: readonly ChartBar[];
}

const WIDTH = 760;
const LABEL_W = 130;
const VALUE_W = 90;
const ROW_H = 22;
const BAR_H = 15;
const TITLE_H = 26;
const PANEL_GAP = 14;
const AXIS_H = 34;
const HEAD_H = 40;

/** Escapes text for SVG content and attributes. */
function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A latency for a label: `12.3 us`, `1.52 ms`. */
export function formatMicros(us: number): string {
  if (us >= 1000) return `${(us / 1000).toPrecision(3)} ms`;
  if (us >= 100) return `${us.toFixed(0)} us`;
  return `${us.toPrecision(3)} us`;
}

/** An axis label for a power of ten of microseconds: `1 us`, `10 ms`. */
function formatDecade(us: number): string {
  const e = Math.round(Math.log10(us));
  const units = [["us", 0], ["ms", 3], ["s", 6]] as const;
  const [unit, at] = e >= 6 ? units[2] : e >= 3 ? units[1] : units[0];
  return `${Math.round(Math.pow(10, e - at))} ${unit}`;
}

/**
 * Draws the chart.
 *
 * @param panels one panel per model
 * @param title the chart's heading
 * @param item what one bar's time is for, in the axis label (`digit`, `file`)
 * @returns SVG text
 */
export function latencyChartSvg(
  panels: readonly ChartPanel[],
  title = "Per-digit latency (batch 1, median, log scale; shorter is faster)",
  item = "digit",
): string {
  const all = panels.flatMap((p) => p.bars.map((b) => b.micros)).filter((v) => v > 0);
  // At least half a decade of bar for the fastest engine, so no bar is empty.
  const lo = Math.pow(10, Math.floor(Math.log10(all.length ? Math.min(...all) / 2 : 1)));
  const hi = Math.max(
    lo * 10,
    Math.pow(10, Math.ceil(Math.log10(all.length ? Math.max(...all) : 10))),
  );
  const x0 = LABEL_W, x1 = WIDTH - VALUE_W;
  const xOf = (v: number) => x0 + (x1 - x0) * (Math.log10(v / lo) / Math.log10(hi / lo));
  const out: string[] = [];
  let y = HEAD_H;
  out.push(
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${
      xml(title)
    }</text>`,
  );
  const top = y;
  for (const panel of panels) {
    out.push(
      `<text x="8" y="${y + 17}" font-size="13" font-weight="bold">${xml(panel.title)}</text>`,
    );
    y += TITLE_H;
    for (const bar of panel.bars) {
      const yb = y + (ROW_H - BAR_H) / 2;
      const w = Math.max(1, xOf(Math.max(bar.micros, lo)) - x0);
      out.push(
        `<text x="${x0 - 6}" y="${y + 15}" text-anchor="end" font-size="12">${
          xml(bar.label)
        }</text>`,
        `<rect x="${x0}" y="${yb}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${
          bar.highlight ? "#d9480f" : "#4c6ef5"
        }"/>`,
        `<text x="${(x0 + w + 5).toFixed(1)}" y="${y + 15}" font-size="11">${
          xml(formatMicros(bar.micros))
        }</text>`,
      );
      y += ROW_H;
    }
    y += PANEL_GAP;
  }
  // Decade grid lines and the axis below the last panel.
  const grid: string[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const x = xOf(v).toFixed(1);
    grid.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${y}" stroke="#dee2e6" stroke-width="1"/>`,
      `<text x="${x}" y="${y + 14}" text-anchor="middle" font-size="11">${
        xml(formatDecade(v))
      }</text>`,
    );
  }
  grid.push(
    `<text x="${(x0 + x1) / 2}" y="${y + 30}" text-anchor="middle" font-size="12">` +
      `microseconds per ${xml(item)}</text>`,
  );
  const height = y + AXIS_H;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT_FAMILY}">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    ...grid,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * Draws the chart and rasterises it (2x zoom, DejaVu Sans, no system fonts).
 *
 * @param panels one panel per model
 * @returns PNG bytes
 */
export function latencyChartPng(
  panels: readonly ChartPanel[],
  title?: string,
  item?: string,
): Promise<Uint8Array> {
  return svgToPng(latencyChartSvg(panels, title, item), { scale: 2 });
}
