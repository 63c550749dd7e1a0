import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileText, RepoNotFoundError, RepoStore, type SyncStep } from "./repo-store.js";

const exec = promisify(execFile);
const UUID_A = "7c0f6a4e-2b1d-4e8a-9c3b-5d6e7f809a1b";
const UUID_B = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "graft-repo-store-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads a repository with the plain git CLI, independently of the store. */
async function git(gitDir: string, ...args: string[]): Promise<string> {
  const env = { PATH: process.env.PATH, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  return (await exec("git", [`--git-dir=${gitDir}`, ...args], { env })).stdout;
}

async function commitCount(gitDir: string): Promise<number> {
  return Number((await git(gitDir, "rev-list", "--count", "main")).trim());
}

const files = (version: string) => new Map<string, string>([
  ["README.md", "# hello\n"],
  ["edo/cluster/a.yaml", `version: ${version}\n`],
  ["edo/cluster/b.yaml", "kind: B\n"],
]);

test("ensureRepo creates one bare repository on main and reuses it", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  const [first, second, third] = await Promise.all([store.ensureRepo(UUID_A), store.ensureRepo(UUID_A),
    store.ensureRepo(UUID_A.toUpperCase())]);
  assert.equal(first, second);
  assert.equal(first, third);
  assert.equal(await store.ensureRepo(UUID_A), first);
  assert.equal(first, path.join(store.dataDir, "repos", `${UUID_A}.git`));
  assert.deepEqual(await store.listRepos(), [UUID_A]);
  assert.deepEqual(await readdir(path.join(store.dataDir, "repos")), [`${UUID_A}.git`]);
  assert.equal((await git(first, "rev-parse", "--is-bare-repository")).trim(), "true");
  assert.equal((await git(first, "symbolic-ref", "HEAD")).trim(), "refs/heads/main");
  assert.equal(await store.headCommit(UUID_A), null);
});

test("ensureRepo cleans up after a crash half-way through creating a repository", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  const leftover = path.join(store.dataDir, "repos", `.tmp-${UUID_A}-abc123`);
  await mkdir(path.join(leftover, "objects"), { recursive: true });
  assert.deepEqual(await store.listRepos(), []);
  await store.ensureRepo(UUID_A);
  assert.deepEqual(await readdir(path.join(store.dataDir, "repos")), [`${UUID_A}.git`]);
});

test("syncFiles commits only when the tree changes", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t), committer: { name: "Test Bot", email: "bot@test.invalid" } });
  const dir = await store.ensureRepo(UUID_A);

  const first = await store.syncFiles(UUID_A, files("1"), "initial content");
  assert.equal(first.changed, true);
  assert.equal(await store.headCommit(UUID_A), first.commit);
  assert.equal(await commitCount(dir), 1);
  assert.equal(await git(dir, "show", "main:edo/cluster/a.yaml"), "version: 1\n");
  assert.deepEqual((await git(dir, "ls-tree", "-r", "--name-only", "main")).trim().split("\n"),
    ["README.md", "edo/cluster/a.yaml", "edo/cluster/b.yaml"]);
  assert.equal((await git(dir, "log", "-1", "--format=%cn <%ce>|%an|%s", "main")).trim(),
    "Test Bot <bot@test.invalid>|Test Bot|initial content");

  const packs = async () => (await readdir(path.join(dir, "objects", "pack"))).sort();
  const packsBefore = await packs();
  assert.equal(packsBefore.length, 2, "the first commit's objects went into one pack and its index");
  const again = await store.syncFiles(UUID_A, new Map([...files("1")].reverse()), "same again");
  assert.deepEqual(again, { commit: first.commit, changed: false, previous: first.commit });
  assert.equal(await commitCount(dir), 1);
  assert.deepEqual(await packs(), packsBefore, "an unchanged tree writes nothing");

  const second = await store.syncFiles(UUID_A, files("2"), "values changed");
  assert.equal(second.changed, true);
  assert.equal(second.previous, first.commit);
  assert.notEqual(second.commit, first.commit);
  assert.equal(await commitCount(dir), 2);
  assert.equal((await git(dir, "rev-parse", "main^")).trim(), first.commit);
  assert.equal(await git(dir, "show", "main:edo/cluster/a.yaml"), "version: 2\n");

  const removed = new Map(files("2"));
  removed.delete("edo/cluster/b.yaml");
  const third = await store.syncFiles(UUID_A, removed, "file removed");
  assert.equal(third.changed, true);
  assert.deepEqual((await git(dir, "ls-tree", "-r", "--name-only", "main")).trim().split("\n"),
    ["README.md", "edo/cluster/a.yaml"]);
  assert.equal(await commitCount(dir), 3);
});

test("a large file every repository holds is read once: the same content for each, as git itself reads it", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  const manifest = `# install manifest\n${"kind: Deployment\nmetadata: {name: x}\n".repeat(2000)}`;
  const withManifest = (version: string) => new Map([...files(version), ["flux-system/gotk-components.yaml", manifest]]);
  await store.syncFiles(UUID_A, withManifest("1"), "initial");
  await store.syncFiles(UUID_B, withManifest("1"), "initial");
  const [a, b] = [await store.readFiles(UUID_A), await store.readFiles(UUID_B)];
  const fromA = a.get("flux-system/gotk-components.yaml")!;
  assert.equal(b.get("flux-system/gotk-components.yaml"), fromA, "one Buffer for both repositories");
  assert.equal(fileText(fromA), manifest);
  assert.equal(await git(store.repoPath({ kind: "cluster", uuid: UUID_B }), "show", "main:flux-system/gotk-components.yaml"), manifest);
  assert.equal(a.get("edo/cluster/a.yaml")!.toString(), "version: 1\n");

  // A repository git itself wrote (a loose object, not one of the store's packs): read and checked the same way.
  const dir = store.repoPath({ kind: "cluster", uuid: UUID_A });
  const other = `${manifest}# edited by hand\n`;
  const scratch = await tempDir(t);
  await writeFile(path.join(scratch, "big.yaml"), other);
  const blob = (await git(dir, "hash-object", "-w", path.join(scratch, "big.yaml"))).trim();
  const treeId = await new Promise<string>((resolve, reject) => {
    const child = execFile("git", [`--git-dir=${dir}`, "mktree"], { env: { PATH: process.env.PATH } }, (err, out) => (err ? reject(err) : resolve(out.trim())));
    child.stdin!.end(`100644 blob ${blob}\tbig.yaml\n`);
  });
  const commit = (await git(dir, "-c", "user.name=Test", "-c", "user.email=test@test.invalid", "commit-tree", treeId, "-p", "main", "-m", "by hand")).trim();
  await git(dir, "update-ref", "refs/heads/main", commit);
  const byHand = (await store.readFiles(UUID_A)).get("big.yaml")!;
  assert.equal(fileText(byHand), other);
  assert.equal((await store.readFiles(UUID_A)).get("big.yaml"), byHand, "read once, then from the cache");
});

for (const step of ["objects-written"] as const) {
  test(`a crash after "${step}" leaves the branch alone and the rerun commits exactly once`, async (t) => {
    const dataDir = await tempDir(t);
    const store = new RepoStore({ dataDir });
    await store.syncFiles(UUID_A, files("1"), "initial");
    const before = await store.headCommit(UUID_A);

    const crashing = new RepoStore({ dataDir, onSyncStep: (s) => {
      if (s === step) throw new Error("simulated crash");
    } });
    await assert.rejects(crashing.syncFiles(UUID_A, files("2"), "update"), /simulated crash/);
    assert.equal(await store.headCommit(UUID_A), before);

    const rerun = await store.syncFiles(UUID_A, files("2"), "update");
    assert.equal(rerun.changed, true);
    const dir = store.repoPath({ kind: "cluster", uuid: UUID_A });
    assert.equal(await commitCount(dir), 2);
    assert.equal((await store.syncFiles(UUID_A, files("2"), "update")).changed, false);
    assert.equal(await commitCount(dir), 2);
  });
}

test("a crash after the branch moved does not produce a duplicate commit on rerun", async (t) => {
  const dataDir = await tempDir(t);
  const crashing = new RepoStore({ dataDir, onSyncStep: (s) => {
    if (s === "ref-updated") throw new Error("simulated crash");
  } });
  await assert.rejects(crashing.syncFiles(UUID_A, files("1"), "initial"), /simulated crash/);
  const store = new RepoStore({ dataDir });
  const rerun = await store.syncFiles(UUID_A, files("1"), "initial");
  assert.equal(rerun.changed, false);
  assert.equal(await commitCount(store.repoPath({ kind: "cluster", uuid: UUID_A })), 1);
});

test("a concurrent writer moving the branch is detected and the content still lands on top", async (t) => {
  const dataDir = await tempDir(t);
  const other = new RepoStore({ dataDir });
  let interfered = false;
  const store = new RepoStore({ dataDir, onSyncStep: async (s: SyncStep) => {
    if (s === "objects-written" && !interfered) {
      interfered = true;
      await other.syncFiles(UUID_A, files("other"), "other writer");
    }
  } });
  const result = await store.syncFiles(UUID_A, files("mine"), "mine");
  assert.equal(result.changed, true);
  const dir = store.repoPath({ kind: "cluster", uuid: UUID_A });
  assert.equal(await git(dir, "show", "main:edo/cluster/a.yaml"), "version: mine\n");
  assert.equal((await git(dir, "log", "--format=%s", "main")).trim(), "mine\nother writer");
});

test("a repository removed behind the store's back after it was known is made again by the next write", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  await store.syncFiles(UUID_A, files("1"), "initial");
  const dir = store.repoPath({ kind: "cluster", uuid: UUID_A });
  await rm(dir, { recursive: true, force: true });
  const again = await store.updateFiles(UUID_A, (current) => new Map<string, string | Buffer>([...current, ...files("2")]), "after the loss");
  assert.equal(again.previous, null, "a new repository, not the lost one");
  assert.equal(await git(dir, "show", "main:edo/cluster/a.yaml"), "version: 2\n");
  assert.equal((await store.syncFiles(UUID_A, files("3"), "next")).changed, true);
  assert.equal(await commitCount(dir), 2);
});

test("deleteRepo removes the repository; headCommit then reports it missing", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  await store.syncFiles(UUID_A, files("1"), "a");
  await store.syncFiles(UUID_B, files("1"), "b");
  assert.deepEqual(await store.listRepos(), [UUID_B, UUID_A].sort());
  assert.equal(await store.deleteRepo(UUID_A), true);
  assert.equal(await store.deleteRepo(UUID_A), false);
  assert.deepEqual(await store.listRepos(), [UUID_B]);
  await assert.rejects(store.headCommit(UUID_A), RepoNotFoundError);
  assert.deepEqual(await readdir(path.join(store.dataDir, "repos")), [`${UUID_B}.git`]);
});

test("unsafe names and paths are refused before touching the disk", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  await assert.rejects(store.ensureRepo("../etc"), /invalid cluster uuid/);
  await assert.rejects(store.ensureSharedRepo("../x"), /invalid shared repository name/);
  for (const bad of ["../x", "/abs", "a//b", "a/./b", ".git/config", "a/.GIT/b", "a\nb", ""]) {
    await assert.rejects(store.syncFiles(UUID_A, new Map([[bad, "x"]]), "m"), /invalid file path/, bad);
  }
  await assert.rejects(store.syncFiles(UUID_A, files("1"), "  "), /commit message must not be empty/);
  assert.deepEqual(await store.listRepos(), []);
});

test("a shared repository is filled from a directory with the same logic", async (t) => {
  const root = await tempDir(t);
  const store = new RepoStore({ dataDir: path.join(root, "data") });
  const charts = path.join(root, "charts");
  await mkdir(path.join(charts, "edge-cluster", "templates"), { recursive: true });
  await mkdir(path.join(charts, ".git"), { recursive: true });
  await writeFile(path.join(charts, ".git", "config"), "ignored");
  await writeFile(path.join(charts, "edge-cluster", "Chart.yaml"), "name: edge-cluster\n");
  await writeFile(path.join(charts, "edge-cluster", "templates", "x.yaml"), "kind: X\n");
  await writeFile(path.join(charts, "update.sh"), "#!/bin/sh\n");
  await chmod(path.join(charts, "update.sh"), 0o755);

  const first = await store.syncSharedFromDirectory("helm-charts", charts, "charts v1");
  assert.equal(first.changed, true);
  const dir = store.repoPath({ kind: "shared", name: "helm-charts" });
  assert.equal(dir, path.join(store.dataDir, "shared", "helm-charts.git"));
  assert.deepEqual((await git(dir, "ls-tree", "-r", "--format=%(objectmode) %(path)", "main")).trim().split("\n"),
    ["100644 edge-cluster/Chart.yaml", "100644 edge-cluster/templates/x.yaml", "100755 update.sh"]);

  assert.equal((await store.syncSharedFromDirectory("helm-charts", charts, "charts v1")).changed, false);
  await writeFile(path.join(charts, "edge-cluster", "Chart.yaml"), "name: edge-cluster\nversion: 2\n");
  const second = await store.syncSharedFromDirectory("helm-charts", charts, "charts v2");
  assert.equal(second.changed, true);
  assert.equal(await store.sharedHeadCommit("helm-charts"), second.commit);
  assert.equal(await commitCount(dir), 2);
  assert.deepEqual(await store.listRepos(), [], "shared repositories are not cluster repositories");
});
