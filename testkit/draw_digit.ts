/// <reference lib="dom" />
/**
 * Replays traced digit strokes (testkit/trace_digit.ts) on the web demo's pad through
 * playwright: where on the pad and how large (a {@link Placement}), with the mouse (real input
 * events) or with a pen (pointer events carrying pressure).
 *
 * @module
 */
import type { Page } from "playwright-core";
import type { TraceStroke } from "./trace_digit.ts";

/** Where a digit is drawn: the longer side of its strokes' box as a fraction of the pad. */
export interface Placement {
  name: string;
  /** Longer side of the strokes' bounding box, as a fraction of the pad's side. */
  size: number;
  /** "centre", "corner" (the four corners in turn, by drawing number), or a centre point. */
  at: "centre" | "corner" | [number, number];
  /** Pen pressure: drawn with pointer events of type "pen"; absent: drawn with the mouse. */
  pressure?: number;
}

/** The placements of issue 16's targets (a margin of 4 % of the pad keeps corners on the pad). */
export const PLACEMENTS: readonly Placement[] = [
  { name: "centre", size: 0.6, at: "centre" },
  { name: "large", size: 0.88, at: "centre" },
  { name: "off-centre", size: 0.45, at: [0.34, 0.64] },
  { name: "small corner (27 %)", size: 0.27, at: "corner" },
  { name: "tiny corner (17 %)", size: 0.17, at: "corner" },
  // Full pressure: the pad paints the pen 1.5x as wide, so the ink is thick for the digit's size.
  { name: "thick pen (27 %)", size: 0.27, at: "centre", pressure: 1 },
];

const MARGIN = 0.04;

/**
 * Maps traced strokes (28x28 image pixels) onto the pad in fractions of its side (0..1, y down).
 *
 * @param strokes traced strokes
 * @param place where and how large
 * @param n the drawing's number, to take the corners in turn
 */
export function placeStrokes(strokes: TraceStroke[], place: Placement, n = 0): TraceStroke[] {
  const pts = strokes.flat();
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const k = place.size / Math.max(x1 - x0, y1 - y0, 1e-9);
  const w = (x1 - x0) * k, h = (y1 - y0) * k;
  let cx: number, cy: number;
  if (place.at === "centre") [cx, cy] = [0.5, 0.5];
  else if (place.at === "corner") {
    const right = n % 2 === 1, bottom = (n >> 1) % 2 === 1;
    cx = right ? 1 - MARGIN - w / 2 : MARGIN + w / 2;
    cy = bottom ? 1 - MARGIN - h / 2 : MARGIN + h / 2;
  } else [cx, cy] = place.at;
  return strokes.map((s) =>
    s.map((
      [x, y],
    ): [number, number] => [cx + (x - (x0 + x1) / 2) * k, cy + (y - (y0 + y1) / 2) * k])
  );
}

/** Screen points of a stroke, with intermediate points at most `step` CSS pixels apart. */
function densify(stroke: TraceStroke, box: DOMRectLike, step: number): [number, number][] {
  const at = (p: [number, number]): [number, number] => [
    box.x + p[0] * box.width,
    box.y + p[1] * box.height,
  ];
  const out = [at(stroke[0]!)];
  for (let i = 1; i < stroke.length; i++) {
    const a = at(stroke[i - 1]!), b = at(stroke[i]!);
    const n = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) / step));
    for (let j = 1; j <= n; j++) {
      out.push([a[0] + (b[0] - a[0]) * j / n, a[1] + (b[1] - a[1]) * j / n]);
    }
  }
  return out;
}

interface DOMRectLike {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * How far apart the samples are: a tenth of the digit's longer side (at least 4 CSS pixels), as
 * a hand moving at a steady pace reports them; a large digit is drawn faster, not with more events.
 */
function sampleStep(strokes: TraceStroke[], box: DOMRectLike): number {
  const pts = strokes.flat();
  const span = (k: 0 | 1) => Math.max(...pts.map((p) => p[k])) - Math.min(...pts.map((p) => p[k]));
  return Math.max(4, Math.max(span(0) * box.width, span(1) * box.height) / 10);
}

/**
 * Draws strokes (pad fractions) on `#pad`: with the mouse, or, when `pressure` is given, with
 * pointer events of a pen at that pressure.
 */
export async function drawStrokes(
  page: Page,
  strokes: TraceStroke[],
  pressure?: number,
): Promise<void> {
  const box = await page.locator("#pad").boundingBox();
  if (!box) throw new Error("the pad is not visible");
  const step = sampleStep(strokes, box);
  const paths = strokes.map((s) => densify(s, box, step));
  if (pressure === undefined) {
    for (const path of paths) {
      await page.mouse.move(path[0]![0], path[0]![1]);
      await page.mouse.down();
      for (const [x, y] of path.slice(1)) await page.mouse.move(x, y);
      await page.mouse.up();
    }
    return;
  }
  await page.evaluate(([paths, pressure]) => {
    const pad = document.getElementById("pad")!;
    const fire = (type: string, x: number, y: number, p: number) =>
      pad.dispatchEvent(
        new PointerEvent(type, {
          pointerId: 7,
          pointerType: "pen",
          isPrimary: true,
          bubbles: true,
          cancelable: true,
          clientX: x,
          clientY: y,
          button: type === "pointermove" ? -1 : 0,
          buttons: type === "pointerup" ? 0 : 1,
          pressure: p,
        }),
      );
    for (const path of paths) {
      fire("pointerdown", path[0]![0], path[0]![1], pressure);
      for (const [x, y] of path.slice(1)) fire("pointermove", x, y, pressure);
      const last = path[path.length - 1]!;
      fire("pointerup", last[0], last[1], 0);
    }
  }, [paths, pressure] as const);
}
