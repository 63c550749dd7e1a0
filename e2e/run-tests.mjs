#!/usr/bin/env node
// The project's test command (`npm test`): sets the machine up (e2e/setup.mjs: Debian packages, the pinned Node.js,
// npm packages), checks generated files, types and lint, makes sure the real components are built (cached outside
// the checkout), then runs every *.test.ts with node:test. Arguments, when given, are path substrings that select
// test files (`npm test -- edge-sync`).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { constants } from "node:os";
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

/** Runs the lanes of [what, script, use] side by side; `use` gets the last line the script prints (its output path). */
async function buildAssets(lanesToRun) {
  const running = new Set();
  const buildOne = ([what, script, use]) => new Promise((resolve, reject) => {
    if (!existsSync(join(root, script))) return resolve();
    const started = Date.now();
    console.log(`== ${what}: ${script}`);
    // Its own process group, so that stopping it stops the go builds under it too.
    const child = spawn("sh", [script], { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: process.env, detached: true });
    running.add(child);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => { out += chunk; });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      running.delete(child);
      if (code !== 0) return reject(new Error(`${script} failed (exit ${code ?? signal})`));
      const dir = out.trim().split("\n").pop();
      use(dir);
      console.log(`   ${what}: ${dir} (${Math.round((Date.now() - started) / 1000)} s)`);
      resolve();
    });
  });
  const stopAll = () => { for (const child of running) { try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ } } };
  const onSignal = (signal) => { stopAll(); process.exit(128 + (constants.signals[signal] ?? 0)); };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, onSignal);
  const started = Date.now();
  try {
    await Promise.all(lanesToRun.map(async (lane) => { for (const asset of lane) await buildOne(asset); }));
  } catch (err) {
    stopAll();
    console.error(`\n${err.message}`);
    process.exit(1);
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.off(signal, onSignal);
  console.log(`== components ready (${Math.round((Date.now() - started) / 1000)} s)`);
}

if (!quick) {
  console.log("== generated files are current (npm run gen:check)");
  run("npx", ["tsx", "operators/api/gen-crds.ts", "--check"]);
  console.log("== type check");
  run("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]);
  console.log("== lint");
  run("npx", ["eslint", "."]);
}

const files = findTests(join(root, "operators")).concat(findTests(join(root, "e2e")))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
// Real components built from pinned Go modules, once, into ~/.cache/graft; test files then only look them up. On a
// cold cache the builds take most of the run, and much of a build is not compiling (module downloads, single-threaded
// links, image assembly), so they run in two lanes side by side. A lane runs in order: a build that calls another
// build script (node images → node, Flux) sits in that script's lane, so no output is ever built twice at once.
const lanes = [[
  ["control plane (etcd, kube-apiserver, kubectl)", "e2e/assets/build-k8s.sh", (dir) => { process.env.GRAFT_K8S_ASSETS = dir; }],
  ["Flux source- and kustomize-controller", "e2e/assets/build-flux.sh", (dir) => { process.env.GRAFT_FLUX_ASSETS = dir; }],
], [
  ["kubeseal", "e2e/assets/build-kubeseal.sh", (dir) => { process.env.KUBESEAL_BIN = `${dir}/kubeseal`; }],
  ["helm", "e2e/assets/build-helm.sh", (path) => { process.env.GRAFT_HELM = path; }],
  ["helm-unittest", "e2e/assets/build-helm-unittest.sh", (path) => { process.env.GRAFT_HELM_UNITTEST = path; }],
]];
// What the selected test files need beyond the base set, read from their source: the older Flux release's
// controllers (config/flux/releases), and the real node with its images where one can run (root on Linux).
const sources = files.map((f) => readFileSync(join(root, f), "utf8"));
if (sources.some((text) => text.includes("GRAFT_FLUX_RELEASE_ASSETS"))) {
  lanes[1].push(["Flux controllers of the older release (fleet upgrade)", "e2e/assets/build-flux-release.sh", (dir) => { process.env.GRAFT_FLUX_RELEASE_ASSETS = dir; }]);
}
const importsRealNode = (text) => /from "[^"]*\/real-node[^"]*"/.test(text);
if (process.platform === "linux" && process.getuid?.() === 0 && sources.some(importsRealNode)) {
  lanes[0].push(
    ["real node (kubelet, kube-proxy, containerd, CoreDNS...)", "e2e/assets/build-node.sh", (dir) => { process.env.GRAFT_NODE_ASSETS = dir; }],
    ["the real node's images (Flux, Sealed Secrets, CoreDNS, pause)", "e2e/assets/build-node-images.sh", (dir) => { process.env.GRAFT_NODE_IMAGES = dir; }],
  );
}
await buildAssets(lanes);
// graft's image last, on its own: its `npm ci` inside buildah failed ("Exit handler never called!") on every cold run
// that built it beside the other lane's Go module downloads, and passed on its own.
if (lanes[0].some(([, script]) => script.endsWith("build-node.sh"))) {
  await buildAssets([[["graft's image (make image)", "e2e/assets/build-image.sh", (path) => { process.env.GRAFT_IMAGE_TARBALL = path; }]]]);
}

console.log(`== ${files.length} test files`);
const concurrency = process.env.GRAFT_TEST_CONCURRENCY ?? "2";
run(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files]);
