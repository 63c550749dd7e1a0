import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { applyKeys, readFirstLine, type KeyState } from "./prompt.js";

const start: KeyState = { value: "", done: false, cancelled: false };

test("hidden input: typed keys accumulate until Enter, Backspace and Ctrl-U edit", () => {
  let s = applyKeys(start, "secrx");
  assert.deepEqual(s, { value: "secrx", done: false, cancelled: false });
  s = applyKeys(s, "\u007fet");
  assert.equal(s.value, "secret");
  s = applyKeys(s, "\u0015pass");
  assert.equal(s.value, "pass");
  assert.deepEqual(applyKeys(s, "word\rignored"), { value: "password", done: true, cancelled: false });
});

test("hidden input: Ctrl-C cancels, Ctrl-D cancels an empty line, control characters are dropped", () => {
  assert.deepEqual(applyKeys(applyKeys(start, "abc"), "\u0003"), { value: "", done: true, cancelled: true });
  assert.equal(applyKeys(start, "\u0004").cancelled, true);
  assert.equal(applyKeys(start, "a\u0004b\u001bc").value, "abc");
});

test("readFirstLine takes the first line only, without its line ending", async () => {
  assert.equal(await readFirstLine(Readable.from(["pass", "word\r\nsecond\n"])), "password");
  assert.equal(await readFirstLine(Readable.from([""])), "");
});
