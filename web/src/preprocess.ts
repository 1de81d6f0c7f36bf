/**
 * Turns a drawing into a model input the way MNIST's digits were made (LeCun et al.): crop to
 * the ink's bounding box, scale the longer side to 20 px with area averaging (anti-aliased, keeps
 * the aspect ratio), then place the 20x20-bounded digit in a 28x28 field so that its centre of
 * mass lands on the field's centre.
 *
 * Pure functions over typed arrays: no DOM, so Deno tests run them directly.
 *
 * @example
 * ```ts
 * import { preprocess } from "./preprocess.ts";
 * const ink = new Uint8Array(100 * 100);
 * for (let y = 20; y < 80; y++) ink[50 + 100 * y] = 255; // a vertical stroke
 * const { pixels } = preprocess(ink, 100, 100);
 * console.log(pixels.length); // 784
 * ```
 *
 * @module
 */

/** Side of the model input, in pixels. */
export const FIELD = 28;
/** MNIST scales the longer side of each digit to this many pixels. */
export const BOX = 20;

/** A half-open pixel rectangle: columns `x0 <= x < x1`, rows `y0 <= y < y1`. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** What {@link preprocess} produced, with the intermediate geometry for display and tests. */
export interface Preprocessed {
  /** 784 pixel values 0..255, row-major (index x + 28*y), white ink on black. */
  pixels: Uint8Array;
  /** Bounding box of the ink in the source, or null when the source has no ink. */
  box: Box | null;
  /** Size of the scaled digit before placement (longer side 20, or less for a 1-pixel source). */
  scaledWidth: number;
  scaledHeight: number;
  /** Where the scaled digit's top-left corner went in the 28x28 field. */
  offsetX: number;
  offsetY: number;
}

/**
 * Extracts the ink from RGBA canvas pixels: the alpha channel (strokes are drawn on a
 * transparent canvas, so alpha is exactly the coverage).
 *
 * @param rgba pixel data as from `getImageData` (4 bytes per pixel)
 * @returns one byte of ink per pixel
 */
export function inkFromRgba(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const ink = new Uint8Array(rgba.length >> 2);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i + 3]!;
  return ink;
}

/**
 * The smallest box holding every pixel whose ink exceeds `threshold`.
 *
 * @param ink one value per pixel, row-major
 * @param width source width
 * @param height source height
 * @param threshold ink at or below this counts as background (anti-aliasing fringe, noise)
 * @returns the box, or null when no pixel has ink
 */
export function boundingBox(
  ink: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 0,
): Box | null {
  let x0 = width, y0 = height, x1 = 0, y1 = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1, last = -1;
    for (let x = 0; x < width; x++) {
      if (ink[row + x]! > threshold) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (first < x0) x0 = first;
    if (last + 1 > x1) x1 = last + 1;
    if (y < y0) y0 = y;
    y1 = y + 1;
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

/**
 * For each destination cell of a 1-D resampling, the source indices it covers and how much of
 * each (overlap length). The weights of one cell add up to `srcLen / dstLen`.
 */
function areaWeights(srcLen: number, dstLen: number): { index: number; weight: number }[][] {
  const step = srcLen / dstLen;
  const cells: { index: number; weight: number }[][] = [];
  for (let d = 0; d < dstLen; d++) {
    const lo = d * step, hi = (d + 1) * step;
    const cell: { index: number; weight: number }[] = [];
    for (let s = Math.floor(lo); s < Math.min(srcLen, Math.ceil(hi)); s++) {
      const w = Math.min(hi, s + 1) - Math.max(lo, s);
      if (w > 1e-9) cell.push({ index: s, weight: w });
    }
    cells.push(cell);
  }
  return cells;
}

/**
 * Resamples a rectangle of `src` to `dstWidth` x `dstHeight` by area averaging: every output
 * pixel is the mean of the source area it covers (a box filter, the anti-aliasing a photo
 * reduction does). Upscaling degenerates to nearest-neighbour with blended edges.
 *
 * @param src one value per pixel, row-major
 * @param srcWidth the width of `src`
 * @param box the rectangle of `src` to resample
 * @param dstWidth output width
 * @param dstHeight output height
 * @returns `dstWidth * dstHeight` values in the range of the input
 */
export function scaleArea(
  src: ArrayLike<number>,
  srcWidth: number,
  box: Box,
  dstWidth: number,
  dstHeight: number,
): Float32Array {
  const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
  const cols = areaWeights(bw, dstWidth);
  const rows = areaWeights(bh, dstHeight);
  // Horizontal pass: bh rows of dstWidth sums, then the vertical pass, then one division.
  const tmp = new Float32Array(bh * dstWidth);
  for (let y = 0; y < bh; y++) {
    const srcRow = (box.y0 + y) * srcWidth + box.x0;
    for (let d = 0; d < dstWidth; d++) {
      let sum = 0;
      for (const { index, weight } of cols[d]!) sum += weight * src[srcRow + index]!;
      tmp[y * dstWidth + d] = sum;
    }
  }
  const out = new Float32Array(dstWidth * dstHeight);
  const area = (bw / dstWidth) * (bh / dstHeight);
  for (let d = 0; d < dstHeight; d++) {
    for (const { index, weight } of rows[d]!) {
      const from = index * dstWidth;
      for (let x = 0; x < dstWidth; x++) out[d * dstWidth + x]! += weight * tmp[from + x]!;
    }
    for (let x = 0; x < dstWidth; x++) out[d * dstWidth + x]! /= area;
  }
  return out;
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

/**
 * The whole MNIST-style pipeline: bounding box, scale the longer side to {@link BOX} px by area
 * averaging, centre of mass to the middle of the {@link FIELD} x {@link FIELD} field (shifted by
 * whole pixels and kept inside the field, as MNIST did).
 *
 * @param ink one ink value 0..255 per source pixel, row-major
 * @param width source width
 * @param height source height
 * @param threshold ink at or below this is ignored when finding the bounding box
 * @returns the 28x28 input plus the geometry used; all zeros when there is no ink
 * @example
 * ```ts
 * import { preprocess } from "./preprocess.ts";
 * const ink = new Uint8Array(50 * 50);
 * ink[10 + 50 * 10] = 255;
 * preprocess(ink, 50, 50).pixels.reduce((a, b) => a + b); // 255 * 20 * 20: one dot -> a 20x20 block
 * ```
 */
export function preprocess(
  ink: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 8,
): Preprocessed {
  const pixels = new Uint8Array(FIELD * FIELD);
  const box = boundingBox(ink, width, height, threshold);
  if (!box) return { pixels, box, scaledWidth: 0, scaledHeight: 0, offsetX: 0, offsetY: 0 };
  const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
  const scale = BOX / Math.max(bw, bh);
  const sw = Math.max(1, Math.min(BOX, Math.round(bw * scale)));
  const sh = Math.max(1, Math.min(BOX, Math.round(bh * scale)));
  const scaled = scaleArea(ink, width, box, sw, sh);
  const com = centreOfMass(scaled, sw, sh) ?? { x: sw / 2, y: sh / 2 };
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  const offsetX = clamp(Math.round(FIELD / 2 - com.x), FIELD - sw);
  const offsetY = clamp(Math.round(FIELD / 2 - com.y), FIELD - sh);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const v = Math.round(scaled[x + sw * y]!);
      pixels[offsetX + x + FIELD * (offsetY + y)] = v > 255 ? 255 : v;
    }
  }
  return { pixels, box, scaledWidth: sw, scaledHeight: sh, offsetX, offsetY };
}
