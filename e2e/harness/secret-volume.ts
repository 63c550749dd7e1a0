// A Secret volume as the kubelet writes it (its AtomicWriter): each key is a symlink through `..data`, which points
// at a timestamped directory and is swapped with one rename, so a reader sees the old content or the new, never a
// mix. Tests use it to rotate a credential file the way a running Pod sees a rotation. Test helper only.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class SecretVolume {
  private generation = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Where a key's file appears in the Pod (what the operator is configured to read). */
  file(key: string): string {
    return join(this.dir, key);
  }

  /** Replaces the whole content atomically, as the kubelet does after the Secret changed. */
  write(data: Record<string, string | Uint8Array>): void {
    const version = `..${new Date().toISOString().replace(/[:.]/g, "_")}.${++this.generation}`;
    mkdirSync(join(this.dir, version), { mode: 0o755 });
    for (const [key, value] of Object.entries(data)) writeFileSync(join(this.dir, version, key), value, { mode: 0o600 });
    let previous: string | undefined;
    try {
      previous = readlinkSync(join(this.dir, "..data"));
    } catch {
      previous = undefined;
    }
    symlinkSync(version, join(this.dir, "..data_tmp"));
    renameSync(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    for (const key of Object.keys(data)) {
      try {
        symlinkSync(join("..data", key), join(this.dir, key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    if (previous) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }
}
