/**
 * Turns a drawing into a model input at MNIST's geometry, from the pen paths rather than the
 * painted pixels, so the input does not depend on how large the digit was drawn or how wide the
 * pen was: the strokes are drawn again, at MNIST's stroke width, into a box whose longer side is
 * 20 px, anti-aliased by area coverage (as MNIST's binary NIST digits were when reduced to 20 px),
 * and that box is placed in the 28x28 field so that its centre of mass lands on the field's centre
 * (a whole-pixel shift, as MNIST did; LeCun et al.).
 *
 * Down-scaling the painted pixels instead kept the pen's width: a digit drawn small became a blob
 * 2-4x as thick as an MNIST stroke relative to its size (issue 16).
 *
 * Pure functions over plain data: no DOM, so Deno tests run them directly.
 *
 * @example
 * ```ts
 * import { preprocess } from "./preprocess.ts";
 * const one = [[{ x: 50, y: 20 }, { x: 50, y: 80 }]]; // a vertical stroke, any unit
 * const { pixels } = preprocess(one);
 * console.log(pixels.length); // 784
 * ```
 *
 * @module
 */
import { flattenStroke, type Stroke, type StrokePoint } from "./strokes.ts";

/** Side of the model input, in pixels. */
export const FIELD = 28;
/** MNIST scales the longer side of each digit's ink to this many pixels. */
export const BOX = 20;
/**
 * The pen width drawn into the 28x28 input, in its pixels: MNIST's typical stroke, measured
 * over the 10,000 test images as the width at which tracing each digit (tests/helpers/
 * trace_digit.ts) and drawing it again with this function gives the same total ink as the image
 * (median ratio 1.0 between 2.4 and 2.6; tools/stroke_width.ts).
 */
export const MNIST_STROKE_WIDTH = 2.5;
/** Supersampling per axis: the coverage of each output pixel is counted on an 8x8 grid. */
const SUPER = 8;
/** Relative pen pressure changes the width along a stroke at most this much either way. */
const PRESSURE_RANGE = 0.3;

/** What {@link preprocess} produced, with the geometry used, for display and tests. */
export interface Preprocessed {
  /** 784 pixel values 0..255, row-major (index x + 28*y), white ink on black. */
  pixels: Uint8Array;
  /** Bounding box of the pen paths in the drawing's unit, or null when there is no stroke. */
  box: { x0: number; y0: number; x1: number; y1: number } | null;
  /** Output pixels per drawing unit. */
  scale: number;
  /** Where the ink box's top-left corner went in the 28x28 field. */
  offsetX: number;
  offsetY: number;
}

/**
 * Centre of mass of an image, with pixel `i` centred at `i + 0.5`.
 *
 * @param img one non-negative mass per pixel, row-major
 * @param width image width
 * @param height image height
 * @returns the centre, or null when the total mass is zero
 */
export function centreOfMass(
  img: ArrayLike<number>,
  width: number,
  height: number,
): { x: number; y: number } | null {
  let mass = 0, sx = 0, sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const m = img[x + width * y]!;
      mass += m;
      sx += m * (x + 0.5);
      sy += m * (y + 0.5);
    }
  }
  return mass > 0 ? { x: sx / mass, y: sy / mass } : null;
}

/** A point of a flattened path in output pixels, with its pen radius there. */
interface Disc {
  x: number;
  y: number;
  r: number;
}

/**
 * Marks on a supersampled grid every sample within the pen's radius of the segment a-b (radius
 * interpolated along it): a capsule, so consecutive segments join round, as the pad draws them.
 */
function stampSegment(grid: Uint8Array, side: number, a: Disc, b: Disc): void {
  const s = SUPER, dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
  const rMax = Math.max(a.r, b.r);
  const x0 = Math.max(0, Math.floor((Math.min(a.x, b.x) - rMax) * s));
  const x1 = Math.min(side - 1, Math.ceil((Math.max(a.x, b.x) + rMax) * s));
  const y0 = Math.max(0, Math.floor((Math.min(a.y, b.y) - rMax) * s));
  const y1 = Math.min(side - 1, Math.ceil((Math.max(a.y, b.y) + rMax) * s));
  for (let gy = y0; gy <= y1; gy++) {
    const py = (gy + 0.5) / s;
    for (let gx = x0; gx <= x1; gx++) {
      const px = (gx + 0.5) / s;
      const t = len2 > 0 ? Math.min(1, Math.max(0, ((px - a.x) * dx + (py - a.y) * dy) / len2)) : 0;
      const r = a.r + (b.r - a.r) * t;
      const ex = px - (a.x + t * dx), ey = py - (a.y + t * dy);
      if (ex * ex + ey * ey <= r * r) grid[gx + side * gy] = 1;
    }
  }
}

/** Each point's pen-width factor: its pressure relative to the drawing's mean, bounded; 1 without pressure. */
function widthFactors(paths: StrokePoint[][]): (p: StrokePoint) => number {
  const ps = paths.flat().map((p) => p.pressure ?? 0);
  if (ps.some((p) => !(p > 0))) return () => 1;
  const mean = ps.reduce((a, b) => a + b, 0) / ps.length;
  return (p) => Math.min(1 + PRESSURE_RANGE, Math.max(1 - PRESSURE_RANGE, p.pressure! / mean));
}

/**
 * The whole pipeline: pen paths to the 28x28 input (see the module's description).
 *
 * @param strokes the drawing, in any unit (y down); strokes with no point are ignored
 * @param strokeWidth the pen width in output pixels (default {@link MNIST_STROKE_WIDTH})
 * @returns the 28x28 input plus the geometry used; all zeros when there is no stroke
 */
export function preprocess(
  strokes: readonly Stroke[],
  strokeWidth = MNIST_STROKE_WIDTH,
): Preprocessed {
  if (!(strokeWidth > 0 && strokeWidth * (1 + PRESSURE_RANGE) < BOX)) {
    throw new Error(
      `strokeWidth must be in (0, ${BOX / (1 + PRESSURE_RANGE)}), got ${strokeWidth}`,
    );
  }
  const pixels = new Uint8Array(FIELD * FIELD);
  const drawn = strokes.filter((s) => s.length > 0);
  if (drawn.length === 0) return { pixels, box: null, scale: 0, offsetX: 0, offsetY: 0 };

  // The smooth curve the pad painted, in segments of at most 1/64 of the samples' extent.
  const raw = drawn.flat();
  const extent = Math.max(
    Math.max(...raw.map((p) => p.x)) - Math.min(...raw.map((p) => p.x)),
    Math.max(...raw.map((p) => p.y)) - Math.min(...raw.map((p) => p.y)),
  );
  const paths = drawn.map((s) => flattenStroke(s, extent > 0 ? extent / 64 : 1));
  const pts = paths.flat();
  const box = {
    x0: Math.min(...pts.map((p) => p.x)),
    y0: Math.min(...pts.map((p) => p.y)),
    x1: Math.max(...pts.map((p) => p.x)),
    y1: Math.max(...pts.map((p) => p.y)),
  };
  // The ink box is the paths' box grown by the widest pen radius on every side; its longer side
  // is BOX.
  const factor = widthFactors(paths);
  const r0 = strokeWidth / 2;
  const rMax = r0 * Math.max(...pts.map(factor));
  const long = Math.max(box.x1 - box.x0, box.y1 - box.y0);
  const scale = long > 0 ? (BOX - 2 * rMax) / long : 0;
  const w = Math.ceil((box.x1 - box.x0) * scale + 2 * rMax - 1e-9);
  const h = Math.ceil((box.y1 - box.y0) * scale + 2 * rMax - 1e-9);

  // Draw into a w x h frame (ink box at its top-left, as MNIST's 20x20 frame), supersampled.
  const disc = (p: StrokePoint): Disc => ({
    x: (p.x - box.x0) * scale + rMax,
    y: (p.y - box.y0) * scale + rMax,
    r: r0 * factor(p),
  });
  const side = Math.max(w, h) * SUPER;
  const grid = new Uint8Array(side * side);
  for (const path of paths) {
    const discs = path.map(disc);
    if (discs.length === 1) stampSegment(grid, side, discs[0]!, discs[0]!);
    for (let i = 1; i < discs.length; i++) stampSegment(grid, side, discs[i - 1]!, discs[i]!);
  }
  const frame = new Float32Array(w * h);
  for (let gy = 0; gy < h * SUPER; gy++) {
    for (let gx = 0; gx < w * SUPER; gx++) {
      if (grid[gx + side * gy]) frame[((gx / SUPER) | 0) + w * ((gy / SUPER) | 0)]! += 1;
    }
  }
  const full = SUPER * SUPER;
  for (let i = 0; i < frame.length; i++) frame[i] = Math.round((255 * frame[i]!) / full);

  const com = centreOfMass(frame, w, h) ?? { x: w / 2, y: h / 2 };
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  const offsetX = clamp(Math.round(FIELD / 2 - com.x), FIELD - w);
  const offsetY = clamp(Math.round(FIELD / 2 - com.y), FIELD - h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pixels[offsetX + x + FIELD * (offsetY + y)] = frame[x + w * y]!;
  }
  return { pixels, box, scale, offsetX, offsetY };
}
