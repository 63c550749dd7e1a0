// The pinned Node.js LTS (.node-version) is the one everywhere: the test run, the image, `engines`, @types/node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, "utf8");
const pinned = read(".node-version").trim();
const major = pinned.split(".")[0]!;
const pkg = JSON.parse(read("package.json")) as { engines: { node: string }; devDependencies: Record<string, string> };

test("the tests run on the pinned Node.js (or newer)", () => {
  assert.match(pinned, /^\d+\.\d+\.\d+$/);
  const parts = (v: string) => v.split(".").map(Number);
  const [have, want] = [parts(process.versions.node), parts(pinned)];
  const order = have.map((n, i) => n - want[i]!).find((d) => d !== 0) ?? 0;
  assert.ok(order >= 0, `node ${process.versions.node} is older than the pinned ${pinned}`);
});

test("the image is built on the pinned Node.js", () => {
  const line = /^ARG NODE_IMAGE=node:(\S+?)-/m.exec(read("Dockerfile"));
  assert.equal(line?.[1], pinned, "the Dockerfile's ARG NODE_IMAGE names .node-version's release");
});

test("engines and @types/node follow the pinned major", () => {
  assert.equal(pkg.engines.node, `>=${major}`);
  assert.match(pkg.devDependencies["@types/node"] ?? "", new RegExp(`^\\^${major}\\.`));
});
