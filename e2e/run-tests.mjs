#!/usr/bin/env node
// The project's test command (`npm test`): sets the machine up (e2e/setup.mjs: Debian packages, the pinned Node.js,
// npm packages), checks generated files, types and lint, makes sure the real components are built (cached outside
// the checkout), then runs every *.test.ts with node:test. Arguments, when given, are path substrings that select
// test files (`npm test -- edge-sync`).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { setUp } from "./setup.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const filters = process.argv.slice(2);
const quick = process.env.GRAFT_TEST_SKIP_CHECKS === "1" || filters.length > 0;

await setUp("test");
console.log(`== node ${process.version} (${process.execPath})`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", opts.capture ? "pipe" : "inherit", "inherit"], encoding: "utf8", env: process.env });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}

if (!quick) {
  console.log("== generated files are current (npm run gen:check)");
  run("npx", ["tsx", "operators/api/gen-crds.ts", "--check"]);
  console.log("== type check");
  run("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]);
  console.log("== lint");
  run("npx", ["eslint", "."]);
}

// Real components built from pinned Go modules, once, into ~/.cache/graft; test files then only look them up.
const assets = [
  ["control plane (etcd, kube-apiserver, kubectl)", "e2e/assets/build-k8s.sh", (dir) => { process.env.GRAFT_K8S_ASSETS = dir; }],
  ["kubeseal", "e2e/assets/build-kubeseal.sh", (dir) => { process.env.KUBESEAL_BIN = `${dir}/kubeseal`; }],
  ["Flux source- and kustomize-controller", "e2e/assets/build-flux.sh", (dir) => { process.env.GRAFT_FLUX_ASSETS = dir; }],
  ["helm", "e2e/assets/build-helm.sh", (path) => { process.env.GRAFT_HELM = path; }],
  ["helm-unittest", "e2e/assets/build-helm-unittest.sh", (path) => { process.env.GRAFT_HELM_UNITTEST = path; }],
];
// A second Flux release's controllers (config/flux/releases), for the fleet upgrade test only.
if (filters.length === 0 || filters.some((s) => "e2e/fleet-upgrade.test.ts".includes(s))) {
  assets.push(["Flux controllers of the older release (fleet upgrade)", "e2e/assets/build-flux-release.sh", (dir) => { process.env.GRAFT_FLUX_RELEASE_ASSETS = dir; }]);
}
// The real node's binaries and images, where the real-node tests can run (root on Linux) and one is selected.
const realNodeTests = ["e2e/harness/real-node.test.ts", "e2e/central-install.test.ts", "e2e/edge-real-node.test.ts",
  "e2e/kerberos-real-node.test.ts"];
if (process.platform === "linux" && process.getuid?.() === 0
  && (filters.length === 0 || realNodeTests.some((f) => filters.some((s) => f.includes(s))))) {
  assets.push(
    ["real node (kubelet, kube-proxy, containerd, CoreDNS...)", "e2e/assets/build-node.sh", (dir) => { process.env.GRAFT_NODE_ASSETS = dir; }],
    ["the real node's images (Flux, Sealed Secrets, CoreDNS, pause)", "e2e/assets/build-node-images.sh", (dir) => { process.env.GRAFT_NODE_IMAGES = dir; }],
    ["graft's image (make image)", "e2e/assets/build-image.sh", (path) => { process.env.GRAFT_IMAGE_TARBALL = path; }],
  );
}
for (const [what, script, use] of assets) {
  if (!existsSync(join(root, script))) continue;
  const started = Date.now();
  console.log(`== ${what}: ${script}`);
  const dir = run("sh", [script], { capture: true }).trim().split("\n").pop();
  use(dir);
  console.log(`   ${dir} (${Math.round((Date.now() - started) / 1000)} s)`);
}

const files = findTests(join(root, "operators")).concat(findTests(join(root, "e2e")))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
console.log(`== ${files.length} test files`);
const concurrency = process.env.GRAFT_TEST_CONCURRENCY ?? "2";
run(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files]);
