// The set-up `npm test` and `make demo` do for themselves on a fresh Debian machine, in one place: the Debian packages
// of e2e/debian-packages.txt (apt-get, when root), the pinned Node.js of .node-version (fetched when the machine's is
// older, then the command re-runs under it) and the npm packages (npm ci when package-lock.json or the node changed).
// Plain Node.js without dependencies, so that it runs on an older node before any of that is there. It reports on
// stderr, so that a command run through it (`npm run graft -- …`) keeps its stdout to itself.
//
//   node e2e/setup.mjs <test|demo> [script.ts [args…]]   sets up, then runs the script with tsx under the pinned node
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const REEXEC_MARK = "GRAFT_SETUP_NODE";

/** The pinned Node.js version (.node-version, also read by the Dockerfile check and the image build). */
export function pinnedNodeVersion() {
  return readFileSync(join(root, ".node-version"), "utf8").trim();
}

/** The lines of e2e/debian-packages.txt: package, purposes it is needed for, and the service it starts (if any). */
export function debianPackages() {
  return readFileSync(join(root, "e2e/debian-packages.txt"), "utf8").split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean)
    .map((line) => {
      const [name, purposes, service] = line.split(/\s+/);
      return { name, purposes: (purposes ?? "").split(","), service };
    });
}

/** Sets up the machine for `purpose` ("test" or "demo"); may re-run the current command under the pinned node. */
export async function setUp(purpose) {
  if (process.env[REEXEC_MARK] !== process.execPath) {
    installDebianPackages(purpose);
    if (olderThan(process.versions.node, pinnedNodeVersion())) await rerunUnderPinnedNode();
  }
  installNpmPackages();
}

function installDebianPackages(purpose) {
  const wanted = debianPackages().filter((p) => p.purposes.includes(purpose));
  const missing = wanted.filter((p) => spawnSync("dpkg", ["-s", p.name], { stdio: "ignore" }).status !== 0).map((p) => p.name);
  const isRoot = process.getuid?.() === 0;
  const sudo = !isRoot && missing.length > 0 && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
  if (missing.length > 0) {
    if (!isRoot && !sudo) {
      fail(`missing Debian packages: ${missing.join(" ")}\n  install them (sudo apt-get install ${missing.join(" ")}) or run as root`);
    }
    console.error(`== installing Debian packages: ${missing.join(" ")}`);
    const asRoot = (args) => run(sudo ? "sudo" : args[0], sudo ? args : args.slice(1), { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    asRoot(["apt-get", "update", "-qq"]);
    asRoot(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing]);
  }
  // The packaged services must not hold their default ports: tests and the demo start their own instances.
  if (isRoot) {
    for (const { service } of wanted) {
      if (!service) continue;
      if (spawnSync("systemctl", ["stop", service], { stdio: "ignore" }).status !== 0) {
        spawnSync("service", [service, "stop"], { stdio: "ignore" });
      }
    }
  }
}

function olderThan(current, pinned) {
  const a = current.split(".").map(Number);
  const b = pinned.split(".").map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

/** Fetches the pinned node (cached) and runs this same command under it, with it first on PATH; exits with its status. */
async function rerunUnderPinnedNode() {
  const node = run("sh", [join(root, "e2e/assets/fetch-node.sh")], { capture: true }).trim().split("\n").pop();
  console.error(`== node ${process.version} is older than the pinned ${pinnedNodeVersion()}: re-running under ${node}`);
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ""}`, [REEXEC_MARK]: node };
  process.exit(await runToEnd(node, [...process.execArgv, ...process.argv.slice(1)], { env, cwd: process.cwd() }));
}

/** Runs a command in the foreground and resolves to the exit status it should be passed on with. */
function runToEnd(cmd, args, opts) {
  const child = spawn(cmd, args, { cwd: root, stdio: "inherit", ...opts });
  // A terminal's Ctrl-C reaches the child itself (same process group); TERM and HUP sent to this process are passed on.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => {
    child.on("error", (err) => { console.error(`${cmd}: ${err.message}`); resolve(1); });
    child.on("exit", (code, signal) => resolve(code ?? 128 + (constants.signals[signal] ?? 0)));
  });
}

/** npm ci when node_modules was not installed from this package-lock.json by this node. */
function installNpmPackages() {
  const stampFile = join(root, "node_modules/.graft-setup");
  const stamp = `${createHash("sha256").update(readFileSync(join(root, "package-lock.json"))).digest("hex")} ${process.version}\n`;
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return;
  console.error("== npm ci");
  run("npm", ["ci", "--no-audit", "--no-fund"], { env: { ...process.env, ...addonBuildEnv() } });
  writeFileSync(stampFile, stamp);
}

/**
 * The native addon (`kerberos`, GSSAPI) is compiled by node-gyp against this node's own headers (the pinned build
 * carries include/node), never against headers fetched from the internet, and never fetched prebuilt.
 */
function addonBuildEnv() {
  const nodeDir = dirname(dirname(process.execPath));
  const env = { npm_config_build_from_source: "true" };
  if (existsSync(join(nodeDir, "include/node/node_api.h"))) env.npm_config_nodedir = nodeDir;
  return env;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", opts.capture ? "pipe" : "inherit", "inherit"], encoding: "utf8", env: opts.env ?? process.env });
  if (r.status !== 0) fail(`${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal ?? r.error?.message})`);
  return r.stdout;
}

function fail(message) {
  console.error(`\nset-up: ${message}`);
  process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [purpose, script, ...args] = process.argv.slice(2);
  if (purpose !== "test" && purpose !== "demo") fail("usage: node e2e/setup.mjs <test|demo> [script.ts [args…]]");
  await setUp(purpose);
  if (script) process.exit(await runToEnd(process.execPath, ["--import", "tsx", script, ...args]));
}
