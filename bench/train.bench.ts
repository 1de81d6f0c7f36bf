/**
 * Training speed. Two groups:
 *
 * - `train`: 20 mini-batches of 64 (forward, backward, Adam, including building the net) per
 *   architecture, on the first 1,280 training images;
 * - `train fc epoch`: one epoch of `train fc` as the CLI runs it by default (57,000 images in
 *   mini-batches of 64, then validation on the 3,000 held out), on 1 and on 2 threads. ggml's
 *   `mnist-train` epoch is the peer (see BENCHMARKS.md, "Training").
 *
 * Run: `deno bench -A bench/train.bench.ts`
 */
import { loadDigits } from "../models/train/data.ts";
import { ARCHS } from "../models/train/layers.ts";
import { train } from "../models/train/trainer.ts";

// GGUFC_BENCH_SMOKE=1 (deno task bench:smoke) runs 2 steps once, to check the bench works.
const SMOKE = Deno.env.get("GGUFC_BENCH_SMOKE") === "1";
const STEPS = SMOKE ? 2 : 20, BATCH = 64;
const all = loadDigits("train");
const first = (n: number) => ({
  count: n,
  pixels: all.pixels.subarray(0, n * 784),
  labels: all.labels.subarray(0, n),
});
const data = first(STEPS * BATCH);

const cases = [
  ...ARCHS.map((arch) => ({ arch, threads: 1 })),
  { arch: "cnn" as const, threads: 2 },
];
for (const { arch, threads } of cases) {
  const name = `train ${arch}: ${STEPS} mini-batches of ${BATCH}, ${threads} thread${
    threads > 1 ? "s" : ""
  }`;
  Deno.bench(name, { group: "train", n: SMOKE ? 1 : 3, warmup: SMOKE ? 0 : 1 }, async () => {
    const cfg = {
      arch,
      epochs: 1,
      batch: BATCH,
      lr: 1e-3,
      lrDecay: 1,
      seed: 1,
      validation: 0,
      threads,
    };
    await train(cfg, data);
  });
}

// One epoch of the default `train fc` (smoke: 2 mini-batches plus their validation share).
const epochData = SMOKE ? first(2 * BATCH + 7) : all;
for (const threads of [1, 2]) {
  Deno.bench(
    `train fc: 1 epoch of ${epochData.count} images (5 % held out; batch ${BATCH}), ${threads} thread${
      threads > 1 ? "s" : ""
    }`,
    { group: "train fc epoch", n: SMOKE ? 1 : 3, warmup: SMOKE ? 0 : 1 },
    async () => {
      await train(
        { arch: "fc", epochs: 1, batch: BATCH, lr: 1e-3, lrDecay: 0.7, seed: 1, threads },
        epochData,
      );
    },
  );
}
