/** The training progress bar: one redrawn line on a terminal, about ten lines in a log. */
import assert from "node:assert/strict";
import { EpochProgress, formatDuration, type ProgressSink } from "../models/train/progress.ts";

function sink(isTerminal: boolean): ProgressSink & { text: string } {
  return {
    text: "",
    isTerminal,
    write(t: string) {
      this.text += t;
    },
  };
}

Deno.test("the progress bar prints a line per 10 % when stderr is not a terminal", () => {
  const s = sink(false);
  const p = new EpochProgress(s, "epoch 1/2", 1000);
  for (let done = 10; done <= 1000; done += 10) p.update(done, 0.5, 0.9);
  p.finish("val acc 97.00%");
  const lines = s.text.trimEnd().split("\n");
  assert.equal(lines.length, 11, s.text); // 0 %, 10 % ... 90 %, then the final line
  assert(!s.text.includes("\r"));
  assert.match(
    lines[0]!,
    /^epoch 1\/2 \[.*\]\s+10\/1000 loss 0\.5000 acc 90\.00% 0:00 eta \d+:\d\d$/,
  );
  assert.match(lines[10]!, /1000\/1000 loss 0\.5000 acc 90\.00% 0:00 \| val acc 97\.00%$/);
});

Deno.test("the progress bar redraws one line with \\r on a terminal", () => {
  const s = sink(true);
  const p = new EpochProgress(s, "epoch 1/1", 100);
  p.update(100, 0.25, 0.5);
  p.finish("done");
  assert(s.text.startsWith("\r"));
  assert.equal(s.text.split("\n").length, 2); // one finished line
});

Deno.test("formatDuration() writes m:ss and h:mm:ss", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(75.4), "1:15");
  assert.equal(formatDuration(3725), "1:02:05");
});
