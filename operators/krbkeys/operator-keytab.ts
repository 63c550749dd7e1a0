// The operator's own keytab, as kadmin reads it. The mounted file (from Secret krb-keys-keytabs) lags behind
// rotations for up to a minute, and krbkeys rotates that very key itself (KerberosKey op1krbkeys): if kadmin kept
// reading the mounted file, a rotation of the operator's own principal would lock it out until the kubelet caught
// up. So kadmin reads a private copy: the mounted file merged with every own key this process has minted since.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keepNewestVersions, mergeKeytabs, splitKeytab, joinKeytab } from "./keytab-bytes.js";

export class OperatorKeytab {
  private sourceDigest = "";
  private minted: Buffer | undefined;
  private writes = 0;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    /** The keytab file kadmin authenticates with. */
    readonly path: string,
    private readonly dir: string,
    private readonly source: string,
    /** The operator's principal, with realm. */
    readonly principal: string,
  ) {}

  /** Copies the source keytab into a private temp dir; throws a clear error when it cannot be read. */
  static async open(source: string, principal: string): Promise<OperatorKeytab> {
    const dir = await mkdtemp(join(tmpdir(), "graft-krbkeys-"));
    const kt = new OperatorKeytab(join(dir, "operator.keytab"), dir, source, principal);
    try {
      await kt.refresh();
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return kt;
  }

  /** Picks up a changed source file (a refreshed Secret volume). Cheap when nothing changed. */
  async refresh(): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.source);
    } catch (err) {
      throw new Error(`the operator keytab "${this.source}" cannot be read: ${(err as Error).message}`);
    }
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (digest === this.sourceDigest) return;
    try {
      splitKeytab(bytes);
    } catch (err) {
      throw new Error(`the operator keytab "${this.source}" is not a keytab: ${(err as Error).message}`);
    }
    this.sourceDigest = digest;
    await this.rewrite(bytes);
  }

  /** Takes the operator principal's entries from a keytab this process has just minted, before it is stored anywhere. */
  async absorb(keytab: Uint8Array): Promise<void> {
    const own = splitKeytab(keytab).filter((e) => e.entry.principal === this.principal);
    if (own.length === 0) return;
    this.minted = keepNewestVersions(mergeKeytabs(...(this.minted ? [this.minted] : []), joinKeytab(own)), 2);
    await this.rewrite(await readFile(this.source).catch(() => Buffer.from([0x05, 0x02])));
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Replaces the private copy atomically, so a kadmin started meanwhile reads the old or the new file, never half.
   * Rewrites run one after another, each merging the minted keys as they are when it runs, so none is lost.
   */
  private rewrite(source: Buffer): Promise<void> {
    const next = this.queue.then(async () => {
      const merged = this.minted ? mergeKeytabs(source, this.minted) : source;
      const tmp = join(this.dir, `operator.keytab.${++this.writes}`);
      await writeFile(tmp, merged, { mode: 0o600 });
      await rename(tmp, this.path);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
