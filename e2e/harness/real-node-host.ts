// What the real test node changes on the host, and how it is put back: the bridge and the guard that keeps every
// packet inside the machine, iptables rules, kernel settings, mounts, cgroups, directories kubelet/containerd/CNI
// write outside their root dirs, and processes. A snapshot of all of it lets the teardown test prove nothing is left.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const bridgeName = "graft-br0";
/** The Pod network: the bridge holds the first address (the API server and kubelet listen there), Pods the rest. */
export const podSubnet = "10.200.0.0/24";
export const bridgeAddress = "10.200.0.1";
export const serviceSubnet = "10.96.0.0/16";
export const dnsServiceAddress = "10.96.0.10";
/** kubelet's cgroup root (cgroupfs driver): every Pod's cgroup is below it in each hierarchy. */
export const cgroupRoot = "graft-node";
const guardComment = "graft real-node guard: nothing leaves the machine";
const cgroupMount = "/sys/fs/cgroup";

/** Paths kubelet, containerd and the CNI plugins write to whatever root directories they are given. */
export const sharedPaths = [
  "/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/netns", "/var/run/netns",
  "/etc/cni", "/opt/cni", "/run/containerd", "/var/lib/containerd", "/opt/containerd", "/etc/containerd",
  "/run/runc", "/run/kubernetes", "/etc/kubernetes",
];

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

// ---- machine-wide lock: one real node at a time (they share the bridge, iptables and kernel settings) ----------

const lockDir = "/run/graft-real-node.lock";

function lockHolder(): number | undefined {
  try {
    const pid = Number(readFileSync(join(lockDir, "pid"), "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until no other process runs a real node (a dead holder's lock is taken over); returns the release. */
export async function lockNode(log: (msg: string) => void = () => {}): Promise<() => void> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = lockHolder();
      if (holder !== undefined && !alive(holder)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`waiting for the real node of process ${holder ?? "?"} to stop`);
      announced = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

// ---- kernel settings ----------------------------------------------------------------------------------------------

/** Keys that change by themselves (counters, random values): not settings, left out of snapshots. */
const volatileSysctl = /^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr|quota\.)|kernel\.(ns_last_pid|random\.|pty\.nr)|net\.netfilter\.nf_conntrack_count)/;
/** What kubelet sets at start whatever it is told (real-node.md); put back once it runs. */
export const kubeletSysctls = ["kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory", "vm.panic_on_oom",
  "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"];

export type Sysctls = Map<string, string>;

/** Every readable kernel setting of the host's namespaces, except counters and per-interface entries. */
export function readSysctls(): Sysctls {
  const out: Sysctls = new Map();
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const key = prefix ? `${prefix}.${name}` : name;
      // Interfaces come and go with Pods (their settings vanish with them); the bridge's are checked as a link.
      if (/^net\.ipv[46]\.(conf|neigh)\.(?!all$|default$)/.test(key)) continue;
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(path, key);
      else if (!volatileSysctl.test(key) && st.mode & 0o444) {
        try {
          out.set(key, readFileSync(path, "utf8").trim());
        } catch {
          // write-only or refused: not part of the snapshot
        }
      }
    }
  };
  walk("/proc/sys", "");
  return out;
}

function writeSysctl(key: string, value: string): void {
  const path = join("/proc/sys", ...key.split("."));
  if (readFileSync(path, "utf8").trim() !== value) writeFileSync(path, value);
}

/** Puts back the given keys (all that differ when keys is omitted) to their value in before. */
export function restoreSysctls(before: Sysctls, keys?: string[]): string[] {
  const now = readSysctls();
  const changed = (keys ?? [...before.keys()]).filter((k) => before.has(k) && now.get(k) !== before.get(k));
  const failed: string[] = [];
  for (const k of changed) {
    try {
      writeSysctl(k, before.get(k)!);
    } catch {
      failed.push(k);
    }
  }
  return failed;
}

// ---- iptables ------------------------------------------------------------------------------------------------------

export interface RuleSet {
  /** "table chain" for each chain that is not built in. */
  chains: string[];
  /** "table -A chain spec" for each rule, as iptables-save prints it (counters left out). */
  rules: string[];
}

const builtInChains = new Set(["INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"]);

function save(family: "iptables" | "ip6tables"): RuleSet {
  const r = spawnSync(`${family}-save`, [], { encoding: "utf8" });
  const text = r.status === 0 ? r.stdout : "";
  const chains: string[] = [];
  const rules: string[] = [];
  let table = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1);
    else if (line.startsWith(":")) {
      const chain = line.slice(1).split(" ")[0]!;
      if (!builtInChains.has(chain)) chains.push(`${table} ${chain}`);
    } else if (line.startsWith("-A ")) rules.push(`${table} ${line}`);
  }
  return { chains: chains.sort(), rules: rules.sort() };
}

export function saveRules(): { v4: RuleSet; v6: RuleSet } {
  return { v4: save("iptables"), v6: save("ip6tables") };
}

/**
 * Removes every rule and chain that is not in before (kube-proxy's, kubelet's, the CNI plugins' and the guard), in
 * one iptables-restore transaction per table without touching anything else.
 */
export function removeAddedRules(before: { v4: RuleSet; v6: RuleSet }): void {
  for (const [family, old] of [["iptables", before.v4], ["ip6tables", before.v6]] as const) {
    const now = save(family);
    const oldRules = new Set(old.rules);
    const oldChains = new Set(old.chains);
    const tables = new Set([...now.rules, ...now.chains].map((l) => l.split(" ")[0]!));
    for (const table of tables) {
      const lines = [`*${table}`];
      for (const r of now.rules) {
        const [t, , chain] = r.split(" ");
        // Rules added to chains that stay are deleted one by one; the chains that go are flushed and deleted.
        if (t !== table || oldRules.has(r)) continue;
        if (builtInChains.has(chain!) || oldChains.has(`${t} ${chain}`)) lines.push(r.slice(t.length + 1).replace(/^-A /, "-D "));
      }
      const gone = now.chains.filter((c) => c.startsWith(`${table} `) && !oldChains.has(c)).map((c) => c.split(" ")[1]!);
      for (const c of gone) lines.push(`-F ${c}`);
      for (const c of gone) lines.push(`-X ${c}`);
      lines.push("COMMIT", "");
      if (lines.length > 3) run(`${family}-restore`, ["--noflush"], lines.join("\n"));
    }
  }
}


// ---- the bridge and the guard ------------------------------------------------------------------------------------

export function createBridge(): void {
  run("ip", ["link", "add", bridgeName, "type", "bridge"]);
  run("ip", ["addr", "add", `${bridgeAddress}/${podSubnet.split("/")[1]}`, "dev", bridgeName]);
  run("ip", ["link", "set", bridgeName, "up"]);
}

export function deleteBridge(): void {
  if (linkExists(bridgeName)) run("ip", ["link", "del", bridgeName]);
}

function linkExists(name: string): boolean {
  return spawnSync("ip", ["link", "show", name], { stdio: "ignore" }).status === 0;
}

/**
 * DROP for anything routed between the bridge and any other interface, first in mangle FORWARD so that no chain
 * kube-proxy or the CNI plugins add can come before it; for IPv4 and IPv6.
 */
export function installGuard(): void {
  for (const family of ["iptables", "ip6tables"]) {
    for (const dir of [["-i", bridgeName, "!", "-o", bridgeName], ["!", "-i", bridgeName, "-o", bridgeName]]) {
      run(family, ["-w", "-t", "mangle", "-I", "FORWARD", "1", ...dir, "-m", "comment", "--comment", guardComment, "-j", "DROP"]);
    }
  }
}

/** Packets the guard has dropped so far (IPv4 and IPv6, both directions); throws when a guard rule is missing. */
export function guardDrops(): number {
  let total = 0;
  let rulesFound = 0;
  for (const family of ["iptables", "ip6tables"]) {
    const text = run(family, ["-w", "-t", "mangle", "-L", "FORWARD", "-n", "-v", "-x"]);
    for (const line of text.split("\n")) {
      if (!line.includes(guardComment)) continue;
      rulesFound++;
      total += Number(line.trim().split(/\s+/)[0]);
    }
  }
  if (rulesFound !== 4) throw new Error(`the real node's guard rules are missing (${rulesFound} of 4 found)`);
  return total;
}

// ---- mounts, cgroups, directories, processes ---------------------------------------------------------------------

function mounts(): { point: string; type: string }[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).map((l) => {
    const fields = l.split(" ");
    const point = fields[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return { point, type: fields[fields.indexOf("-") + 1] ?? "" };
  });
}

const mountPoints = () => mounts().map((m) => m.point);

/**
 * The mounts the node could leave: under its directories or the shared paths, and any container root (overlay) or
 * network namespace (nsfs) wherever it is. Other mounts come and go with the rest of the machine's work.
 */
function nodeMounts(): string[] {
  const prefixes = [join(tmpdir(), "graft-node-"), ...sharedPaths.map((p) => `${p}/`)];
  return mounts().filter((m) => m.type === "overlay" || m.type === "nsfs" || sharedPaths.includes(m.point)
    || prefixes.some((p) => m.point.startsWith(p))).map((m) => m.point).sort();
}

/** Unmounts everything mounted at or below one of the prefixes, deepest first. */
export function unmountBelow(prefixes: string[]): void {
  const under = (m: string) => prefixes.some((p) => m === p || m.startsWith(`${p}/`));
  for (let round = 0; round < 5; round++) {
    const targets = [...new Set(mountPoints().filter(under))].sort((a, b) => b.length - a.length);
    if (targets.length === 0) return;
    for (const t of targets) {
      if (spawnSync("umount", [t], { stdio: "ignore" }).status !== 0) spawnSync("umount", ["-l", t], { stdio: "ignore" });
    }
  }
}

function cgroupHierarchies(): string[] {
  return readdirSync(cgroupMount).map((h) => join(cgroupMount, h)).filter((p) => existsSync(join(p, "cgroup.procs")));
}

/** Makes kubelet's cgroup root in every hierarchy (cpuset's needs its parent's CPUs and memory nodes copied). */
export function createCgroupRoot(): void {
  for (const h of cgroupHierarchies()) {
    const dir = join(h, cgroupRoot);
    mkdirSync(dir, { recursive: true });
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(join(h, f))) writeFileSync(join(dir, f), readFileSync(join(h, f), "utf8"));
    }
  }
}

/** The processes in kubelet's cgroup root (the Pods' containers), from every hierarchy. */
export function cgroupProcesses(): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) pids.add(Number(p));
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      // the cgroup went away meanwhile
    }
  };
  for (const h of cgroupHierarchies()) if (existsSync(join(h, cgroupRoot))) walk(join(h, cgroupRoot));
  return [...pids];
}

export function removeCgroupRoot(): void {
  const rmTree = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
    rmdirSync(dir);
  };
  for (const h of cgroupHierarchies()) {
    const dir = join(h, cgroupRoot);
    if (existsSync(dir)) rmTree(dir);
  }
}

/** Processes whose executable is one of the given files. */
export function processesRunning(executables: string[]): number[] {
  const wanted = new Set(executables);
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (wanted.has(readlinkSync(`/proc/${name}/exe`).replace(/ \(deleted\)$/, ""))) pids.push(Number(name));
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** For each shared path: absent, or the names it holds. */
export function sharedPathState(): Record<string, string[] | null> {
  const out: Record<string, string[] | null> = {};
  for (const p of sharedPaths) out[p] = existsSync(p) ? readdirSync(p).sort() : null;
  return out;
}

/** Removes what appeared in the shared paths since before (the whole path when it did not exist). */
export function removeNewSharedEntries(before: Record<string, string[] | null>): void {
  for (const p of sharedPaths) {
    if (!existsSync(p)) continue;
    const old = before[p];
    if (old === null || old === undefined) rmSync(p, { recursive: true, force: true });
    else for (const e of readdirSync(p)) if (!old.includes(e)) rmSync(join(p, e), { recursive: true, force: true });
  }
}

/** Everything the node could leave behind, in a form two snapshots can be compared in. */
export interface HostState {
  links: string[];
  mounts: string[];
  rules: { v4: RuleSet; v6: RuleSet };
  sysctls: Record<string, string>;
  sharedPaths: Record<string, string[] | null>;
  cgroups: string[];
  /** Processes of the node's binaries (by executable path) or in kubelet's cgroup root. */
  processes: number[];
}

export function hostState(executables: string[] = []): HostState {
  const links = run("ip", ["-o", "link", "show"]).split("\n").filter(Boolean)
    .map((l) => l.split(":")[1]!.trim().split("@")[0]!).sort();
  return {
    links,
    mounts: nodeMounts(),
    rules: saveRules(),
    sysctls: Object.fromEntries([...readSysctls()].sort(([a], [b]) => a.localeCompare(b))),
    sharedPaths: sharedPathState(),
    cgroups: cgroupHierarchies().filter((h) => existsSync(join(h, cgroupRoot))),
    processes: [...new Set([...processesRunning(executables), ...cgroupProcesses()])].sort((a, b) => a - b),
  };
}
