/**
 * The shipped models reach the accuracy their model cards state, measured on the 10,000 MNIST
 * test images through `eval`'s code path (the compiled WASM module), and each card's figure
 * meets the issue's floor for that model.
 */
import { assert } from "./helpers/assert.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { evaluate } from "../reference/evaluate.ts";
import { predictorForFile } from "../cli/predictors.ts";

const cardsUrl = new URL("../models/README.md", import.meta.url);

/** The test accuracy (percent) stated in the card of `file`. */
function cardAccuracy(cards: string, file: string): number {
  const section = cards.split(/^## /m).find((s) => s.startsWith(file));
  assert(section, `models/README.md has a card for ${file}`);
  const m = section.match(/\| test accuracy \| \*\*([0-9.]+) %\*\*/);
  assert(m, `the card of ${file} states its test accuracy as '| test accuracy | **NN.NN %** |'`);
  return Number(m[1]);
}

for (
  const { file, floor } of [
    { file: "mnist-fc.gguf", floor: 98.0 },
    { file: "mnist-cnn.gguf", floor: 99.0 },
    { file: "mnist-cnn-small.gguf", floor: 98.0 },
  ]
) {
  Deno.test(`models/${file} reaches its card's test accuracy (at least ${floor} %)`, async () => {
    const cards = await Deno.readTextFile(cardsUrl);
    const stated = cardAccuracy(cards, file);
    assert(stated >= floor, `card states ${stated} %, the issue asks for at least ${floor} %`);
    const bytes = await Deno.readFile(new URL(`../models/${file}`, import.meta.url));
    const { images, labels } = loadMnist("test");
    const result = await evaluate(
      await predictorForFile(bytes, file, "wasm"),
      images.pixels,
      labels,
    );
    const measured = Math.round(result.accuracy * 10000) / 100;
    // The card rounds to two decimals; the measurement must not fall below it.
    assert(measured >= stated, `${file}: measured ${measured} %, card states ${stated} %`);
  });
}
