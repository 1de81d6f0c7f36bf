/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The drawing pad: Pointer Events (mouse, pen, touch), smooth strokes drawn as quadratic curves
 * through the midpoints of successive samples (web/src/strokes.ts), round caps and joins, and a
 * line width relative to the canvas size. The pad keeps every stroke as a path (its samples, with
 * a pen's pressure), which is what preprocessing reads: the painted pixels are only for the eye.
 *
 * Ink is drawn opaque on a transparent canvas.
 *
 * @module
 */
import { type Stroke, strokePath, type StrokePoint } from "./strokes.ts";

/** Stroke width as a fraction of the canvas width (a pen at pressure 0.5). */
export const LINE_WIDTH_FRACTION = 1 / 14;

/** Traces a stroke's smooth path on `ctx` (web/src/strokes.ts has its definition). */
function tracePath(ctx: CanvasRenderingContext2D, pts: Stroke): void {
  const first = pts[0]!;
  ctx.beginPath();
  ctx.moveTo(first.x, first.y);
  if (pts.length === 1) {
    ctx.lineTo(first.x + 0.01, first.y); // a dot: round caps make it a disc
    return;
  }
  for (const piece of strokePath(pts)) {
    if (piece.kind === "quad") {
      ctx.quadraticCurveTo(piece.control.x, piece.control.y, piece.to.x, piece.to.y);
    } else ctx.lineTo(piece.to.x, piece.to.y);
  }
}

/**
 * How wide the pad paints a stroke, relative to {@link LINE_WIDTH_FRACTION}: a pen's mean pressure
 * makes it 0.5x to 1.5x as wide; other pointers give no pressure (1x). The model input's stroke
 * width does not follow this (web/src/preprocess.ts).
 */
function widthFactor(pts: Stroke): number {
  if (pts.length === 0 || pts[0]!.pressure === undefined) return 1;
  const mean = pts.reduce((s, p) => s + p.pressure!, 0) / pts.length;
  return 0.5 + Math.min(1, Math.max(0, mean));
}

/** A drawing pad over one canvas element. */
export class DrawingPad {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  /** Finished strokes; the stroke in progress is redrawn over it as one path, so segment joins
   * never double the anti-aliased edges. */
  readonly #committed: HTMLCanvasElement;
  #pointer: number | null = null;
  /** The stroke in progress. */
  #points: StrokePoint[] = [];
  /** Finished strokes, as drawn. */
  #strokes: StrokePoint[][] = [];
  #empty = true;
  /** Called after every change of the ink (a new segment, clear, or an image drawn in). */
  onChange: () => void = () => {};
  /** Called when a stroke starts (before its first ink). */
  onStrokeStart: () => void = () => {};
  /** Called when a stroke ends. */
  onStrokeEnd: () => void = () => {};

  /**
   * @param canvas the canvas to draw on; its backing size is set to its displayed size in
   *   device pixels (280 to 1024)
   * @param colour stroke colour
   */
  constructor(canvas: HTMLCanvasElement, colour = "#ffffff") {
    this.canvas = canvas;
    // Sharp strokes on high-density screens: as many backing pixels as device pixels (bounded,
    // since every prediction reads them all). The line width follows the size.
    const css = canvas.getBoundingClientRect().width;
    if (css > 0) {
      const side = Math.round(
        Math.min(1024, Math.max(280, css * (globalThis.devicePixelRatio || 1))),
      );
      canvas.width = canvas.height = side;
    }
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("Canvas 2D is not available");
    this.#ctx = ctx;
    this.#ctx.strokeStyle = colour;
    this.#committed = document.createElement("canvas");
    this.#committed.width = canvas.width;
    this.#committed.height = canvas.height;
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    canvas.addEventListener("lostpointercapture", (e) => this.#up(e));
    // No context menu on long press (scrolling gestures are off through touch-action: none).
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** True when nothing has been drawn since the last clear. */
  get empty(): boolean {
    return this.#empty;
  }

  /** The line width in canvas pixels, at pressure 0.5 (or without pressure). */
  get lineWidth(): number {
    return this.canvas.width * LINE_WIDTH_FRACTION;
  }

  /** The drawing as paths in canvas pixels: finished strokes, then the one in progress. */
  strokes(): Stroke[] {
    const all: Stroke[] = this.#strokes.map((s) => s.slice());
    if (this.#points.length > 0) all.push(this.#points.slice());
    return all;
  }

  /** Erases everything. */
  clear(): void {
    this.#ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.#committed.getContext("2d")!.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.#points = [];
    this.#strokes = [];
    this.#empty = true;
    this.onChange();
  }

  /**
   * Shows a 28x28 grey image (e.g. a test digit) scaled up smoothly over the whole pad.
   *
   * @param pixels 784 values 0..255, row-major, white ink on black
   */
  showImage(pixels: Uint8Array): void {
    const small = document.createElement("canvas");
    small.width = small.height = 28;
    const sctx = small.getContext("2d")!;
    const img = sctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = 255;
      img.data[4 * i + 3] = pixels[i]!;
    }
    sctx.putImageData(img, 0, 0);
    const cctx = this.#committed.getContext("2d")!;
    cctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    cctx.imageSmoothingEnabled = true;
    cctx.imageSmoothingQuality = "low"; // bilinear: "high" rings (faint lines beside strokes)
    cctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.#strokes = []; // a shown image is no drawing: preprocessing does not apply to it
    this.#redraw();
    this.#empty = false;
    this.onChange();
  }

  /** Committed strokes plus the stroke in progress. */
  #redraw(): void {
    const ctx = this.#ctx;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.#committed, 0, 0);
    if (this.#points.length === 0) return;
    ctx.lineWidth = this.lineWidth * widthFactor(this.#points);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    tracePath(ctx, this.#points);
    ctx.stroke();
  }

  /** Maps a pointer event to canvas backing-store coordinates, with a pen's pressure. */
  #at(e: PointerEvent): StrokePoint {
    const r = this.canvas.getBoundingClientRect();
    const p: StrokePoint = {
      x: ((e.clientX - r.left) / r.width) * this.canvas.width,
      y: ((e.clientY - r.top) / r.height) * this.canvas.height,
    };
    // Mice report 0.5 while pressed and most touch screens a constant: only a pen's is measured.
    if (e.pointerType === "pen") p.pressure = e.pressure;
    return p;
  }

  #down(e: PointerEvent): void {
    if (this.#pointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.#pointer = e.pointerId;
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      // Synthetic events may have no active pointer to capture; drawing still works.
    }
    this.onStrokeStart();
    this.#points = [this.#at(e)];
    this.#empty = false;
    this.#redraw();
    this.onChange();
  }

  #move(e: PointerEvent): void {
    if (e.pointerId !== this.#pointer) return;
    e.preventDefault();
    // Coalesced events keep fast strokes smooth when the browser batches pointer moves.
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    let moved = false;
    for (const ev of events.length > 0 ? events : [e]) {
      const p = this.#at(ev), last = this.#points[this.#points.length - 1]!;
      if (Math.abs(p.x - last.x) < 0.5 && Math.abs(p.y - last.y) < 0.5) continue;
      this.#points.push(p);
      moved = true;
    }
    if (!moved) return;
    this.#redraw();
    this.onChange();
  }

  #up(e: PointerEvent): void {
    if (e.pointerId !== this.#pointer) return;
    this.#redraw();
    // The finished stroke becomes part of the committed layer.
    const cctx = this.#committed.getContext("2d")!;
    cctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    cctx.drawImage(this.canvas, 0, 0);
    this.#pointer = null;
    if (this.#points.length > 0) this.#strokes.push(this.#points);
    this.#points = [];
    this.onChange();
    this.onStrokeEnd();
  }
}
