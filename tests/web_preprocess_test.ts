import assert from "node:assert/strict";
import {
  boundingBox,
  centreOfMass,
  FIELD,
  inkFromRgba,
  preprocess,
  scaleArea,
} from "../web/src/preprocess.ts";

/** A `width` x `height` ink image with a filled rectangle [x0, x1) x [y0, y1). */
function rect(width: number, height: number, x0: number, y0: number, x1: number, y1: number) {
  const ink = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) ink.fill(255, x0 + width * y, x1 + width * y);
  return ink;
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

Deno.test("boundingBox() finds the half-open box around the ink", () => {
  const ink = rect(40, 30, 7, 5, 19, 23);
  assert.deepEqual(boundingBox(ink, 40, 30), { x0: 7, y0: 5, x1: 19, y1: 23 });
});

Deno.test("boundingBox() ignores ink at or below the threshold and returns null without ink", () => {
  const ink = new Uint8Array(20 * 20);
  ink[3] = 5;
  assert.equal(boundingBox(ink, 20, 20, 8), null);
  ink[5 + 20 * 9] = 200;
  assert.deepEqual(boundingBox(ink, 20, 20, 8), { x0: 5, y0: 9, x1: 6, y1: 10 });
});

Deno.test("inkFromRgba() takes the alpha channel", () => {
  const rgba = new Uint8ClampedArray([1, 2, 3, 40, 5, 6, 7, 255]);
  assert.deepEqual([...inkFromRgba(rgba)], [40, 255]);
});

Deno.test("scaleArea() averages areas: 4x4 checker halves to uniform grey", () => {
  const src = new Uint8Array(16);
  for (let i = 0; i < 16; i++) src[i] = ((i & 3) + (i >> 2)) % 2 === 0 ? 255 : 0;
  const out = scaleArea(src, 4, { x0: 0, y0: 0, x1: 4, y1: 4 }, 2, 2);
  // Exact: each output pixel covers two white and two black pixels.
  assert.deepEqual([...out], [127.5, 127.5, 127.5, 127.5]);
});

Deno.test("scaleArea() keeps the mean ink under a non-integer reduction", () => {
  const src = rect(30, 30, 3, 4, 20, 27);
  const box = { x0: 0, y0: 0, x1: 30, y1: 30 };
  const out = scaleArea(src, 30, box, 7, 7);
  // Area averaging preserves total ink per unit area; 1e-3 absorbs float32 rounding.
  assert.ok(Math.abs(sum(out) / 49 - sum(src) / 900) < 1e-3);
});

Deno.test("preprocess() scales the longer side of the ink to 20 px and keeps the aspect ratio", () => {
  // A 40 x 100 block: longer side (height) -> 20 px, width -> 8 px.
  const r = preprocess(rect(300, 300, 50, 60, 90, 160), 300, 300);
  assert.equal(r.scaledWidth, 8);
  assert.equal(r.scaledHeight, 20);
  let w = 0, h = 0;
  for (let x = 0; x < FIELD; x++) if (r.pixels[x + FIELD * 14]! > 0) w++;
  for (let y = 0; y < FIELD; y++) if (r.pixels[14 + FIELD * y]! > 0) h++;
  assert.equal(w, 8);
  assert.equal(h, 20);
  assert.equal(Math.max(...r.pixels), 255);
});

Deno.test("preprocess() shifts an off-centre blob so its centre of mass is the field's centre", () => {
  // A small blob in the top-left corner of a big canvas.
  const r = preprocess(rect(280, 280, 10, 12, 40, 52), 280, 280);
  const com = centreOfMass(r.pixels, FIELD, FIELD)!;
  // Whole-pixel shifts, as MNIST: the centre lands within half a pixel of (14, 14).
  assert.ok(Math.abs(com.x - 14) <= 0.5, `x ${com.x}`);
  assert.ok(Math.abs(com.y - 14) <= 0.5, `y ${com.y}`);
});

Deno.test("preprocess() centres by mass, not by box: a lopsided shape moves its heavy side to the middle", () => {
  // An L: a heavy vertical bar on the left plus a thin foot.
  // Box 40 x 60 -> 13 x 20 px; the mass sits at a third of the width, so the digit moves right.
  const ink = rect(100, 100, 20, 20, 40, 80);
  for (let y = 72; y < 80; y++) ink.fill(255, 40 + 100 * y, 60 + 100 * y);
  const r = preprocess(ink, 100, 100);
  const com = centreOfMass(r.pixels, FIELD, FIELD)!;
  assert.ok(Math.abs(com.x - 14) <= 0.5 && Math.abs(com.y - 14) <= 0.5, JSON.stringify(com));
  // The bounding box is then not centred: more room on the left than the right.
  const left = r.offsetX, right = FIELD - r.offsetX - r.scaledWidth;
  assert.ok(left > right, `left ${left}, right ${right}`);
});

Deno.test("preprocess() of an empty canvas gives 784 zeros", () => {
  const r = preprocess(new Uint8Array(200 * 150), 200, 150);
  assert.equal(r.pixels.length, 784);
  assert.equal(sum(r.pixels), 0);
  assert.equal(r.box, null);
});

Deno.test("preprocess() anti-aliases: a thin diagonal gives intermediate grey levels", () => {
  const ink = new Uint8Array(200 * 200);
  for (let i = 20; i < 180; i++) ink.fill(255, i - 3 + 200 * i, i + 3 + 200 * i);
  const grey = [...preprocess(ink, 200, 200).pixels].filter((v) => v > 0 && v < 255);
  assert.ok(grey.length > 20, `${grey.length} grey pixels`);
});
