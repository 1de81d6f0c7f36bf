import assert from "node:assert/strict";
import { BOX, centreOfMass, FIELD, MNIST_STROKE_WIDTH, preprocess } from "../web/src/preprocess.ts";
import { flattenStroke, type Stroke, type StrokePoint } from "../web/src/strokes.ts";
import { traceDigit } from "../testkit/trace_digit.ts";
import { loadMnistTestSet } from "../web/testset.ts";

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

/** Rows and columns of the 28x28 image that hold any ink. */
function inkExtent(px: Uint8Array): { cols: number[]; rows: number[] } {
  const cols = [], rows = [];
  for (let i = 0; i < FIELD; i++) {
    let c = 0, r = 0;
    for (let j = 0; j < FIELD; j++) {
      c += px[i + FIELD * j]!;
      r += px[j + FIELD * i]!;
    }
    if (c > 0) cols.push(i);
    if (r > 0) rows.push(i);
  }
  return { cols, rows };
}

/** Mean absolute difference of two inputs, in grey levels. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
  return d / a.length;
}

/** Strokes scaled by `k` and moved by (dx, dy), as the same digit drawn elsewhere and larger. */
function moved(strokes: Stroke[], k: number, dx: number, dy: number): Stroke[] {
  return strokes.map((s) => s.map((p) => ({ ...p, x: p.x * k + dx, y: p.y * k + dy })));
}

const TEST = loadMnistTestSet();
/** Test image `i` traced into strokes, in its 28x28 pixels. */
function traced(i: number): Stroke[] {
  return traceDigit(TEST.pixels.subarray(784 * i, 784 * i + 784)).map((s) =>
    s.map(([x, y]) => ({ x, y }))
  );
}

Deno.test("flattenStroke() follows the pad's curve: through the first and last samples and every midpoint", () => {
  const s: StrokePoint[] = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }];
  const flat = flattenStroke(s, 0.5);
  assert.deepEqual(flat[0], { x: 0, y: 0 });
  assert.deepEqual(flat.at(-1), { x: 0, y: 10 });
  // The curve passes through the midpoint (10, 5) of the 2nd and 3rd samples.
  assert.ok(flat.some((p) => Math.hypot(p.x - 10, p.y - 5) < 1e-9));
  // It cuts the corners: it never reaches the control point (10, 0).
  assert.ok(flat.every((p) => Math.hypot(p.x - 10, p.y) > 2));
  for (let i = 1; i < flat.length; i++) {
    const step = Math.hypot(flat[i]!.x - flat[i - 1]!.x, flat[i]!.y - flat[i - 1]!.y);
    assert.ok(step <= 0.5 + 1e-9, `segment ${i} is ${step} long`);
  }
  assert.equal(flattenStroke([{ x: 3, y: 4 }], 1).length, 1);
  assert.throws(() => flattenStroke([], 1), /at least one point/);
  assert.throws(() => flattenStroke(s, 0), /step must be > 0/);
});

Deno.test("flattenStroke() interpolates pressure only where every sample has one", () => {
  const withP = flattenStroke([{ x: 0, y: 0, pressure: 0.2 }, { x: 4, y: 0, pressure: 0.6 }], 1);
  assert.deepEqual(withP.map((p) => +p.pressure!.toFixed(6)), [0.2, 0.3, 0.4, 0.5, 0.6]);
  const mixed = flattenStroke([{ x: 0, y: 0, pressure: 0.2 }, { x: 4, y: 0 }], 1);
  assert.ok(mixed.every((p) => p.pressure === undefined));
});

Deno.test("preprocess() of a vertical line: 20 px of ink tall, MNIST's stroke wide, centred", () => {
  const r = preprocess([[{ x: 50, y: 20 }, { x: 50, y: 80 }]]);
  const { cols, rows } = inkExtent(r.pixels);
  assert.equal(rows.length, BOX);
  assert.equal(cols.length, Math.ceil(MNIST_STROKE_WIDTH));
  // Full coverage inside the line, and the same total ink as a 2.5 x 20 px capsule.
  assert.equal(r.pixels[14 + FIELD * 14], 255);
  const capsule = MNIST_STROKE_WIDTH * (BOX - MNIST_STROKE_WIDTH) +
    Math.PI * (MNIST_STROKE_WIDTH / 2) ** 2;
  assert.ok(Math.abs(sum(r.pixels) / 255 - capsule) < 0.5, `ink ${sum(r.pixels) / 255}`);
  const com = centreOfMass(r.pixels, FIELD, FIELD)!;
  assert.ok(Math.abs(com.x - 14) <= 0.5 && Math.abs(com.y - 14) <= 0.5, JSON.stringify(com));
});

Deno.test("preprocess() gives the same input for a digit drawn tiny in a corner and large in the middle", () => {
  // Test image 0 (a 7) and 3 (a 0), traced, drawn on a 448 px pad at 17 % and at 88 % of it.
  for (const i of [0, 3]) {
    const strokes = traced(i);
    const tiny = preprocess(moved(strokes, 448 * 0.17 / 20, 10, 370)).pixels;
    const large = preprocess(moved(strokes, 448 * 0.88 / 20, 20, 5)).pixels;
    // Same shape at another scale and place: only sampling differs (a fraction of a grey level
    // per pixel on average; a misplaced stroke would differ by tens).
    assert.ok(meanAbsDiff(tiny, large) < 3, `image ${i}: ${meanAbsDiff(tiny, large)}`);
    assert.equal(inkExtent(tiny).rows.length, inkExtent(large).rows.length);
  }
});

Deno.test("preprocess() ignores the pen's width: uniform pressure, high or low, gives the same input", () => {
  const strokes = traced(1);
  const at = (p: number) => preprocess(strokes.map((s) => s.map((q) => ({ ...q, pressure: p }))));
  const none = preprocess(strokes).pixels;
  assert.deepEqual(at(0.1).pixels, none);
  assert.deepEqual(at(1).pixels, none);
});

Deno.test("preprocess() draws relative pressure: a stroke pressed harder at one end is wider there", () => {
  const line = (p0: number, p1: number) =>
    preprocess([[{ x: 0, y: 0, pressure: p0 }, { x: 0, y: 100, pressure: p1 }]]).pixels;
  const rowInk = (px: Uint8Array, y: number) => sum(px.subarray(FIELD * y, FIELD * y + FIELD));
  const px = line(0.2, 0.8);
  const { rows } = inkExtent(px);
  assert.ok(rowInk(px, rows.at(-2)!) > rowInk(px, rows[1]!) * 1.3);
  // The mean width stays MNIST's: about as much ink as without pressure.
  const plain = line(0.5, 0.5);
  assert.ok(Math.abs(sum(px) / sum(plain) - 1) < 0.1, `${sum(px) / sum(plain)}`);
});

Deno.test("preprocess() of traced MNIST digits comes close to the MNIST image itself", () => {
  // The tracer's replay at MNIST's stroke width: on average within a small fraction of full ink.
  const diffs = [0, 1, 2, 3, 4, 7, 8, 11, 18, 61].map((i) =>
    meanAbsDiff(preprocess(traced(i)).pixels, TEST.pixels.subarray(784 * i, 784 * i + 784))
  );
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  assert.ok(mean < 25, `mean |drawn - MNIST| = ${mean.toFixed(1)} grey levels (${diffs})`);
});

Deno.test("preprocess() of a single tap is a dot of MNIST's stroke width in the middle", () => {
  const r = preprocess([[{ x: 120, y: 33 }]]);
  const { cols, rows } = inkExtent(r.pixels);
  assert.equal(cols.length, 3);
  assert.equal(rows.length, 3);
  assert.ok(cols.includes(13) || cols.includes(14));
});

Deno.test("preprocess() of no strokes gives 784 zeros; a bad stroke width is an error", () => {
  for (const strokes of [[], [[]]]) {
    const r = preprocess(strokes);
    assert.equal(r.pixels.length, 784);
    assert.equal(sum(r.pixels), 0);
    assert.equal(r.box, null);
  }
  assert.throws(() => preprocess([[{ x: 0, y: 0 }]], 0), /strokeWidth must be in/);
  assert.throws(() => preprocess([[{ x: 0, y: 0 }]], 19), /strokeWidth must be in/);
});
