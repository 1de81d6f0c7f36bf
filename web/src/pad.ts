/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The drawing pad: Pointer Events (mouse, pen, touch), smooth strokes drawn as quadratic curves
 * through the midpoints of successive samples, round caps and joins, and a line width relative
 * to the canvas size so the stroke-to-digit proportions match MNIST whatever the display size.
 *
 * Ink is drawn opaque on a transparent canvas, so the alpha channel is the ink coverage.
 *
 * @module
 */

/** Stroke width as a fraction of the canvas width. */
export const LINE_WIDTH_FRACTION = 1 / 14;

/** A point in canvas backing-store pixels. */
interface Point {
  x: number;
  y: number;
}

/**
 * Traces a stroke on `ctx` as one path: straight to the first midpoint, quadratic curves through
 * every later midpoint with the samples as control points, straight to the last sample.
 */
function tracePath(ctx: CanvasRenderingContext2D, pts: readonly Point[]): void {
  const first = pts[0]!;
  ctx.beginPath();
  ctx.moveTo(first.x, first.y);
  if (pts.length === 1) {
    ctx.lineTo(first.x + 0.01, first.y); // a dot: round caps make it a disc
    return;
  }
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i]!, q = pts[i + 1]!;
    ctx.quadraticCurveTo(p.x, p.y, (p.x + q.x) / 2, (p.y + q.y) / 2);
  }
  const last = pts[pts.length - 1]!;
  ctx.lineTo(last.x, last.y);
}

/** A drawing pad over one canvas element. */
export class DrawingPad {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  /** Finished strokes; the stroke in progress is redrawn over it as one path, so segment joins
   * never double the anti-aliased edges. */
  readonly #committed: HTMLCanvasElement;
  #pointer: number | null = null;
  #points: Point[] = [];
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

  /** The line width in canvas pixels. */
  get lineWidth(): number {
    return this.canvas.width * LINE_WIDTH_FRACTION;
  }

  /** Erases everything. */
  clear(): void {
    this.#ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.#committed.getContext("2d")!.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.#points = [];
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
    this.#redraw();
    this.#empty = false;
    this.onChange();
  }

  /** The ink as RGBA pixels of the whole canvas. */
  imageData(): ImageData {
    return this.#ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Committed strokes plus the stroke in progress. */
  #redraw(): void {
    const ctx = this.#ctx;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.#committed, 0, 0);
    if (this.#points.length === 0) return;
    ctx.lineWidth = this.lineWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    tracePath(ctx, this.#points);
    ctx.stroke();
  }

  /** Maps a pointer event to canvas backing-store coordinates. */
  #at(e: PointerEvent): Point {
    const r = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) / r.width) * this.canvas.width,
      y: ((e.clientY - r.top) / r.height) * this.canvas.height,
    };
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
    this.#points = [];
    this.onChange();
    this.onStrokeEnd();
  }
}
