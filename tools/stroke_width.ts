/**
 * `deno run -A tools/stroke_width.ts`: measures MNIST's typical stroke width for the web demo's
 * preprocessing (web/src/preprocess.ts, `MNIST_STROKE_WIDTH`). Each of the 10,000 test images is
 * traced into pen strokes (tests/helpers/trace_digit.ts) and drawn again with `preprocess` at a
 * range of pen widths; for each width it prints the median and quartiles, over the images, of
 * the drawn ink's total divided by the image's. The width whose median is 1 draws as much ink as
 * MNIST for a digit of the same (20 px) size.
 *
 * @module
 */
import { traceDigit } from "../testkit/trace_digit.ts";
import { preprocess } from "../web/src/preprocess.ts";
import { loadMnistTestSet } from "../web/testset.ts";

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};

if (import.meta.main) {
  const test = loadMnistTestSet();
  const traced = Array.from({ length: test.count }, (_, i) => {
    const img = test.pixels.subarray(784 * i, 784 * i + 784);
    const strokes = traceDigit(img).map((s) => s.map(([x, y]) => ({ x, y })));
    return { strokes, ink: sum(img) };
  });
  console.log("width  q1     median q3");
  for (let w = 2.0; w <= 3.41; w += 0.2) {
    const ratios = traced.map((t) => sum(preprocess(t.strokes, w).pixels) / t.ink).sort((a, b) =>
      a - b
    );
    const q = (f: number) => ratios[Math.floor(f * (ratios.length - 1))]!.toFixed(3);
    console.log(`${w.toFixed(1)}    ${q(0.25)}  ${q(0.5)}  ${q(0.75)}`);
  }
}
