/**
 * The memory strip: an SVG drawn directly (no Graphviz) with arena offset down the side and
 * execution step along the bottom. Each buffer is a box spanning the steps it is live and the
 * bytes it occupies, so boxes stacked in the same rows at different times are the reuse the
 * planner found.
 *
 * @module
 */
import { formatBytes } from "./dot.ts";

/** One arena buffer as the strip draws it. */
export interface StripBuffer {
  /** Short tag shared with the plan graph, e.g. `b3`. */
  readonly tag: string;
  /** What lives there (tensor name). */
  readonly name: string;
  /** Byte offset in the arena. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** First column (index in {@link StripInput.steps}) the buffer is live in. */
  readonly first: number;
  /** Last column it is live in (inclusive). */
  readonly last: number;
  /** Fill colour (`#rrggbb`). */
  readonly color: string;
}

/** What {@link memoryStripSvg} draws. */
export interface StripInput {
  readonly buffers: readonly StripBuffer[];
  /** One label per column (execution step), left to right, e.g. `in`, `0`, `1`. */
  readonly steps: readonly string[];
  /** Arena size in bytes (the y axis extent). */
  readonly arenaBytes: number;
  /** Sum of all buffer sizes without reuse, for the title (optional). */
  readonly naiveBytes?: number;
  /** Title line above the strip. */
  readonly title?: string;
}

/** Pastel fills for buffers, cycled by index; the plan graph uses the same colours. */
export const BUFFER_COLORS = [
  "#8dd3c7",
  "#ffffb3",
  "#bebada",
  "#fb8072",
  "#80b1d3",
  "#fdb462",
  "#b3de69",
  "#fccde5",
  "#d9d9d9",
  "#bc80bd",
  "#ccebc5",
  "#ffed6f",
] as const;

/** Escapes text for SVG character data and attribute values. */
export function xmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
    // XML 1.0 forbids most C0 controls even as references.
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "\uFFFD");
}

/** A name from a model file cut to 40 characters. */
function short(name: string): string {
  return name.length > 40 ? name.slice(0, 39) + "…" : name;
}

/** Rough width of DejaVu Sans text: 0.62 em per character on average (digits 0.64). */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.62;
}

/**
 * Draws the memory strip as a standalone SVG (sizes in pt-like user units, like Graphviz's).
 *
 * @param input buffers, step count, arena size
 * @returns SVG text
 * @example
 * ```ts
 * import { memoryStripSvg } from "./memory_strip.ts";
 * const svg = memoryStripSvg({
 *   steps: ["0", "1"], arenaBytes: 64,
 *   buffers: [{ tag: "b0", name: "x", offset: 0, size: 64, first: 0, last: 1, color: "#8dd3c7" }],
 * });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function memoryStripSvg(input: StripInput): string {
  const { buffers, arenaBytes } = input;
  const steps = input.steps.length;
  const title = input.title ??
    `arena ${formatBytes(arenaBytes)}` +
      (input.naiveBytes !== undefined ? ` (without reuse ${formatBytes(input.naiveBytes)})` : "");
  const left = 70, top = 46, right = 16, plotH = 360;
  const colW = Math.max(22, Math.min(48, 480 / Math.max(1, steps)));
  const plotW = colW * Math.max(1, steps);
  // Legend: one line per buffer under the axis, so slivers too thin to label are still named.
  const legend = buffers.map((b) =>
    `${b.tag}  ${short(b.name)}  @${b.offset} +${b.size} B  steps ${input.steps[b.first]}–${
      input.steps[b.last]
    }`
  );
  const legendTop = top + plotH + 48, lineH = 12;
  const width = Math.max(
    left + plotW + right,
    textWidth(title, 13) + 24,
    ...legend.map((l) => left + 16 + textWidth(l, 9)),
  );
  const height = legendTop + legend.length * lineH + 8;
  const span = Math.max(1, arenaBytes);
  const y = (bytes: number) => top + (bytes / span) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}pt" height="${height}pt" ` +
    `viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  out.push(
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${xmlText(title)}</text>`,
    `<text x="${left + plotW / 2}" y="36" text-anchor="middle" font-size="9" fill="#555">` +
      `memory strip: arena offset (down) vs execution step (across)</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fafafa" ` +
      `stroke="#888" stroke-width="0.8"/>`,
  );
  // Step columns and their numbers.
  for (let s = 0; s < steps; s++) {
    const x = left + s * colW;
    if (s > 0) {
      out.push(
        `<line x1="${x}" y1="${top}" x2="${x}" y2="${top + plotH}" stroke="#e4e4e4" ` +
          `stroke-width="0.6"/>`,
      );
    }
    out.push(
      `<text x="${x + colW / 2}" y="${top + plotH + 13}" text-anchor="middle" font-size="9">` +
        `${xmlText(input.steps[s]!)}</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 30}" text-anchor="middle" ` +
      `font-size="10">step</text>`,
  );
  // Offset ticks: 0, quarters, arena end.
  for (let q = 0; q <= 4; q++) {
    const bytes = Math.round((arenaBytes * q) / 4);
    const ty = y(bytes);
    out.push(
      `<line x1="${left - 4}" y1="${ty}" x2="${left}" y2="${ty}" stroke="#888" ` +
        `stroke-width="0.8"/>`,
      `<text x="${left - 6}" y="${ty + 3}" text-anchor="end" font-size="9">` +
        `${xmlText(formatBytes(bytes))}</text>`,
    );
  }
  // Buffers; a tiny buffer still gets a visible sliver (1.5 units).
  for (const b of buffers) {
    const x = left + b.first * colW, w = (b.last - b.first + 1) * colW;
    const y0 = y(b.offset), h = Math.max(1.5, y(b.offset + b.size) - y0);
    out.push(
      `<rect x="${x + 0.5}" y="${y0}" width="${w - 1}" height="${h}" fill="${b.color}" ` +
        `stroke="#333" stroke-width="0.6"><title>${
          xmlText(`${b.tag} ${b.name}: ${b.size} B at ${b.offset}`)
        }</title></rect>`,
    );
    const full = `${b.tag} ${short(b.name)}`;
    for (const [text, size] of [[full, 9], [b.tag, 8]] as const) {
      if (h >= size + 2 && textWidth(text, size) <= w - 4) {
        out.push(
          `<text x="${x + w / 2}" y="${y0 + h / 2 + size * 0.35}" text-anchor="middle" ` +
            `font-size="${size}">${xmlText(text)}</text>`,
        );
        break;
      }
    }
  }
  legend.forEach((line, i) => {
    const ly = legendTop + i * lineH;
    out.push(
      `<rect x="${left}" y="${ly - 8}" width="10" height="9" fill="${buffers[i]!.color}" ` +
        `stroke="#333" stroke-width="0.5"/>`,
      `<text x="${left + 16}" y="${ly}" font-size="9">${xmlText(line)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}
