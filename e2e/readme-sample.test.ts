// The README's "Using it" commands work on the sample they apply: every EdgeCluster they name is the sample's, in
// the sample's namespace, and it says how to run the graft CLI they use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const SAMPLE = "config/samples/factoryplus.app.amrc.co.uk_v1alpha1_edgecluster.yaml";

test("README's walkthrough names the sample's EdgeCluster and namespace", () => {
  const sample = parse(readFileSync(`${root}${SAMPLE}`, "utf8")) as { metadata: { name: string; namespace: string } };
  const { name, namespace } = sample.metadata;
  const readme = readFileSync(`${root}README.md`, "utf8");
  const section = readme.slice(readme.indexOf("## Using it"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  assert.ok(block.includes(`kubectl apply -f ${SAMPLE}`), "the walkthrough applies the sample");
  const commands = block.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter((l) => /^(kubectl|graft) /.test(l) && !l.startsWith("kubectl apply"));
  assert.ok(commands.length >= 3);
  for (const c of commands) {
    assert.match(c, new RegExp(`(^|[\\s/])${name}(-bootstrap)?(\\s|$)`), `"${c}" names EdgeCluster ${name}`);
    assert.match(c, new RegExp(`\\s-n ${namespace}\\s`), `"${c}" names namespace ${namespace}`);
  }
  const example = /```yaml\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## The EdgeCluster resource")))?.[1] ?? "";
  assert.match(example, new RegExp(`metadata: \\{ name: ${name}, namespace: ${namespace} \\}`), "the resource example is the sample");
});

test("README says how to run the graft CLI its walkthrough uses, and package.json has that script", () => {
  const readme = readFileSync(`${root}README.md`, "utf8");
  const section = readme.slice(readme.indexOf("## Using it"), readme.indexOf("## Configuration"));
  assert.ok(section.includes("`npm run graft -- <command> [options]`"), "the walkthrough's graft commands say how to run graft");
  const scripts = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.graft ?? "", /operators\/cli\/main\.ts$/, "npm run graft runs the CLI");
});
