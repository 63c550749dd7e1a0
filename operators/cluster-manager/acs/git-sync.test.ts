// Pushing cluster repositories to the ACS Git server (the stand-in's, over git http-backend) with a Bearer token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { App, Class } from "../../api/constants.js";
import { silentLogger } from "../../runtime/logger.js";
import { standinFixtureForFile } from "../../../e2e/acs-standin/client-fixture.js";
import { tempDirForFile } from "../../../e2e/support/api-server.js";
import { RepoStore } from "../git/repo-store.js";
import { gitClient, withCredentials } from "../../../e2e/support/cluster-manager/fixtures.js";
import { AcsGitRepos } from "./git-sync.js";

const dir = tempDirForFile("graft-acs-git-");
const fx = await standinFixtureForFile();
const repos = new RepoStore({ dataDir: join(dir, "data") });
const git = new AcsGitRepos(repos, fx.acs.service("git"), silentLogger);

function newRepo(): string {
  const uuid = randomUUID();
  fx.standin.configdb.register(uuid, Class.EdgeCluster);
  fx.standin.configdb.put(App.GitRepoConfig, uuid, { path: `cluster/${uuid}` });
  return uuid;
}

const files = (entries: Record<string, string>) => () => new Map(Object.entries(entries));
const commitsOnServer = async (uuid: string) =>
  (await gitClient(["--git-dir", fx.standin.gitRepoPath(uuid), "rev-list", "main"])).stdout.trim().split("\n");

/** Pushes a commit adding one file as another client would (the admin, with Basic credentials). */
async function pushFromElsewhere(uuid: string, file: string) {
  const work = mkdtempSync(join(dir, "other-"));
  const url = withCredentials(await git.repoUrl(uuid), fx.standin.adminUser.username, fx.standin.adminUser.password);
  await gitClient(["clone", "-q", url, work]);
  writeFileSync(join(work, file), "by hand\n");
  await gitClient(["add", file], work);
  await gitClient(["-c", "user.name=admin", "-c", "user.email=admin@example.invalid", "commit", "-qm", "by hand"], work);
  await gitClient(["push", "-q", "origin", "HEAD:main"], work);
}

test("the first sync pushes one commit; the same content again pushes nothing", async () => {
  const uuid = newRepo();
  const first = await git.sync(uuid, files({ "README.md": "hello\n" }), "Set up");
  assert.equal(first.pushed, true);
  assert.deepEqual(await commitsOnServer(uuid), [first.commit]);
  const again = await git.sync(uuid, files({ "README.md": "hello\n" }), "Set up");
  assert.deepEqual([again.pushed, again.commit], [false, first.commit]);
});

test("a commit pushed by someone else is built on, not overwritten, even when it lands during the update", async () => {
  const uuid = newRepo();
  await git.sync(uuid, files({ "README.md": "one\n" }), "Set up");
  await pushFromElsewhere(uuid, "by-hand.yaml");
  let rounds = 0;
  const result = await git.sync(uuid, async (current) => {
    rounds++;
    // The first time round, another client pushes between our fetch and our push: ours is refused and redone.
    if (rounds === 1) await pushFromElsewhere(uuid, "late.yaml");
    const next = new Map<string, string | Buffer>(current);
    next.set("README.md", "two\n");
    return next;
  }, "Update");
  assert.equal(rounds, 2, "the refused push was redone on the other client's commit");
  const commits = await commitsOnServer(uuid);
  assert.equal(commits[0], result.commit);
  assert.equal(commits.length, 4, "set up, by-hand, late, update: one linear history");
  const tree = (await gitClient(["--git-dir", fx.standin.gitRepoPath(uuid), "ls-tree", "--name-only", "main"])).stdout.trim().split("\n");
  assert.deepEqual(tree.sort(), ["README.md", "by-hand.yaml", "late.yaml"]);
});

test("a revoked token is replaced, and a lost local copy is rebuilt from the server without a new commit", async () => {
  const uuid = newRepo();
  const first = await git.sync(uuid, files({ "a.txt": "a\n" }), "Set up");
  const logins = fx.standin.logins("git");
  fx.standin.revokeTokens("git");
  await git.forget(uuid);
  const again = await git.sync(uuid, files({ "a.txt": "a\n" }), "Set up");
  assert.deepEqual([again.pushed, again.commit], [false, first.commit]);
  assert.equal(fx.standin.logins("git"), logins + 1, "logged in once more");
});

test("a repository without its Git repository configuration entry is refused with git's error", async () => {
  const uuid = randomUUID();
  await assert.rejects(git.sync(uuid, files({ "a.txt": "a\n" }), "Set up"), /git ls-remote failed/);
});
