/**
 * Training speed: 20 mini-batches of 64 (forward, backward, Adam) per architecture, on the first
 * 1,280 training images. Full-run times are in models/README.md.
 *
 * Each case runs 3 times after 1 warm-up, so the file stays short.
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
const data = {
  count: STEPS * BATCH,
  pixels: all.pixels.subarray(0, STEPS * BATCH * 784),
  labels: all.labels.subarray(0, STEPS * BATCH),
};

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
