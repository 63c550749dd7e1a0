// A cluster repository on the ACS Git server (smart HTTP at `<git base>/uuid/<repo uuid>`, Bearer token from the
// Git service's /token). The local repo store keeps a working copy: it is first aligned with the server's `main`,
// the new content is committed on top only when the tree changes, and the commit is pushed as a fast-forward. If
// someone else pushed meanwhile, the push is refused and the whole round runs again on their commit.
import type { Logger } from "pino";
import type { ServiceClient } from "../../acs/service-client.js";
import { GitCommandError, runGit } from "../git/git-cli.js";
import { BRANCH_REF } from "../git/repo-layout.js";
import type { RepoStore, SyncResult } from "../git/repo-store.js";

export type FilesUpdate = (current: Map<string, Buffer>) => Map<string, string | Buffer> | Promise<Map<string, string | Buffer>>;

const MAX_ROUNDS = 4;
const AUTH_FAILURE = /\b401\b|Authentication failed|could not read Username/i;
const PUSH_REJECTED = /\[rejected\]|\(fetch first\)|non-fast-forward|failed to push/i;

export class AcsGitRepos {
  constructor(private readonly repos: RepoStore, private readonly git: ServiceClient, private readonly log: Logger) {}

  /** The smart-HTTP URL of a repository, as Flux on the edge and the git CLI reach it. */
  async repoUrl(uuid: string): Promise<string> {
    return `${await this.git.baseUrl()}uuid/${uuid}`;
  }

  /** Syncs of one repository run one after another: they share its working copy. */
  private readonly running = new Map<string, Promise<unknown>>();

  /**
   * Makes the server's `main` hold the updated files; `pushed` says whether a new commit reached the server. Syncs of
   * the same repository (the setup and the secret route) are serialised, so one never commits a tree read before the
   * other's commit.
   */
  sync(uuid: string, update: FilesUpdate, message: string): Promise<SyncResult & { pushed: boolean }> {
    const previous = this.running.get(uuid) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.syncNow(uuid, update, message));
    const settled = run.catch(() => undefined);
    this.running.set(uuid, settled);
    void settled.then(() => {
      if (this.running.get(uuid) === settled) this.running.delete(uuid);
    });
    return run;
  }

  private async syncNow(uuid: string, update: FilesUpdate, message: string): Promise<SyncResult & { pushed: boolean }> {
    const url = await this.repoUrl(uuid);
    const dir = await this.repos.ensureRepo(uuid);
    for (let round = 1; ; round++) {
      const remoteHead = await this.remoteHead(url);
      // Aligned already (the working copy made or fetched the server's head last time): no git process needed.
      const localHead = await this.repos.headCommit(uuid);
      if (remoteHead && remoteHead !== localHead) {
        await this.withToken((env) => runGit(["fetch", "--quiet", "--no-tags", url, `+${BRANCH_REF}:${BRANCH_REF}`], { gitDir: dir, env }));
      } else if (!remoteHead && localHead !== null) {
        await runGit(["update-ref", "-d", BRANCH_REF], { gitDir: dir, okCodes: [1] });
      }
      const result = await this.repos.updateFiles(uuid, update, message);
      if (result.commit === remoteHead) return { ...result, pushed: false };
      try {
        await this.withToken((env) => runGit(["push", "--quiet", url, `${BRANCH_REF}:${BRANCH_REF}`], { gitDir: dir, env }));
        this.log.info({ repo: uuid, commit: result.commit }, "pushed cluster repository");
        return { ...result, changed: true, pushed: true };
      } catch (err) {
        if (round >= MAX_ROUNDS || !(err instanceof GitCommandError) || !PUSH_REJECTED.test(err.stderr)) throw err;
        this.log.info({ repo: uuid, round }, "the server's branch moved during the update; trying again on its commit");
      }
    }
  }

  /** The commit `main` points at on the server, null while the repository is empty. */
  async remoteHead(url: string): Promise<string | null> {
    const { stdout } = await this.withToken((env) => runGit(["ls-remote", url, BRANCH_REF], { env }));
    const line = stdout.split("\n").find((l) => l.endsWith(`\t${BRANCH_REF}`));
    return line ? line.split("\t")[0]! : null;
  }

  /** The local working copy of a repository, once it is no longer needed. */
  forget(uuid: string): Promise<boolean> {
    return this.repos.deleteRepo(uuid);
  }

  /**
   * Runs git with the Bearer token in an extra HTTP header passed through the environment (never on the command
   * line); a refused token is replaced once.
   */
  private async withToken<T>(run: (env: Record<string, string>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.git.token();
      try {
        return await run({
          GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: `Authorization: Bearer ${token}`,
        });
      } catch (err) {
        if (attempt > 1 || !(err instanceof GitCommandError) || !AUTH_FAILURE.test(err.stderr)) throw err;
        this.git.invalidateToken(token);
      }
    }
  }
}
