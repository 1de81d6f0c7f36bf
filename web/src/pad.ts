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

/** A drawing pad over one canvas element. */
export class DrawingPad {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  #pointer: number | null = null;
  #points: { x: number; y: number }[] = [];
  #empty = true;
  /** Called after every change of the ink (a new segment, clear, or an image drawn in). */
  onChange: () => void = () => {};
  /** Called when a stroke starts (before its first ink). */
  onStrokeStart: () => void = () => {};
  /** Called when a stroke ends. */
  onStrokeEnd: () => void = () => {};

  /**
   * @param canvas the canvas to draw on; its backing size (width/height attributes) is kept
   * @param colour stroke colour
   */
  constructor(canvas: HTMLCanvasElement, colour = "#ffffff") {
    this.canvas = canvas;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("Canvas 2D is not available");
    this.#ctx = ctx;
    this.#ctx.strokeStyle = colour;
    this.#ctx.fillStyle = colour;
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    canvas.addEventListener("lostpointercapture", (e) => this.#up(e));
    // No context menu or scrolling gestures on the pad (touch-action: none in CSS too).
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
    this.#ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.#ctx.imageSmoothingEnabled = true;
    this.#ctx.imageSmoothingQuality = "high";
    this.#ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.#empty = false;
    this.onChange();
  }

  /** The ink as RGBA pixels of the whole canvas. */
  imageData(): ImageData {
    return this.#ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Maps a pointer event to canvas backing-store coordinates. */
  #at(e: PointerEvent): { x: number; y: number } {
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
    const p = this.#at(e);
    this.#points = [p];
    // A tap leaves a dot.
    const ctx = this.#ctx;
    ctx.beginPath();
    ctx.arc(p.x, p.y, this.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    this.#empty = false;
    this.onChange();
  }

  #move(e: PointerEvent): void {
    if (e.pointerId !== this.#pointer) return;
    e.preventDefault();
    // Coalesced events keep fast strokes smooth when the browser batches pointer moves.
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length > 0 ? events : [e]) this.#extend(this.#at(ev));
    this.onChange();
  }

  /** Draws from the midpoint of the last two samples to the midpoint of the last and `p`. */
  #extend(p: { x: number; y: number }): void {
    const pts = this.#points;
    const last = pts[pts.length - 1];
    if (!last || (Math.abs(p.x - last.x) < 0.5 && Math.abs(p.y - last.y) < 0.5)) return;
    const prev = pts[pts.length - 2];
    const ctx = this.#ctx;
    ctx.lineWidth = this.lineWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    const start = prev ? { x: (prev.x + last.x) / 2, y: (prev.y + last.y) / 2 } : last;
    ctx.moveTo(start.x, start.y);
    ctx.quadraticCurveTo(last.x, last.y, (last.x + p.x) / 2, (last.y + p.y) / 2);
    ctx.stroke();
    pts.push(p);
    if (pts.length > 3) pts.shift();
  }

  #up(e: PointerEvent): void {
    if (e.pointerId !== this.#pointer) return;
    // Finish the stroke: the last half segment, to the final sample.
    const pts = this.#points;
    const last = pts[pts.length - 1], prev = pts[pts.length - 2];
    if (last && prev) {
      const ctx = this.#ctx;
      ctx.lineWidth = this.lineWidth;
      ctx.lineCap = "round";
      ctx.beginPath();
      ctx.moveTo((prev.x + last.x) / 2, (prev.y + last.y) / 2);
      ctx.lineTo(last.x, last.y);
      ctx.stroke();
    }
    this.#pointer = null;
    this.#points = [];
    this.onChange();
    this.onStrokeEnd();
  }
}
