// The JSON log line as a log shipper sees it: every key once, the object's name under "name", the logger's under
// "controller", and secrets redacted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      cb();
    },
  });
  return { lines, destination };
}

const keysOf = (line: string) => [...line.matchAll(/"([^"]+)":/g)].map((m) => m[1]);

test("a JSON line carries each key once: the object's name as name, the logger's as controller", () => {
  const { lines, destination } = capture();
  const log = createLogger("cluster-manager", { destination });
  log.child({ key: "sites/plant-a" }).info({ name: "plant-a", namespace: "sites" }, "reconciled");
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  const keys = keysOf(line);
  assert.deepEqual(keys.filter((k) => keys.indexOf(k) !== keys.lastIndexOf(k)), [], `duplicate keys in ${line}`);
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed.name, "plant-a");
  assert.equal(parsed.controller, "cluster-manager");
  assert.equal(parsed.namespace, "sites");
  assert.equal(parsed.level, "info");
});

test("secret-looking keys are redacted wherever they sit", () => {
  const { lines, destination } = capture();
  createLogger("x", { destination }).info({ token: "t0k3n", req: { headers: { authorization: "Bearer abc" } } }, "request");
  assert.doesNotMatch(lines[0]!, /t0k3n|Bearer abc/);
});
