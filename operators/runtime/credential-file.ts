// A credential (password, token) kept in a file, as a mounted Secret delivers it. It is read when first needed and
// read again once a server has refused it, so a rotation — krbkeys changes the password at the KDC and in the
// Secret, the kubelet updates the volume up to a minute later — reaches a running process without a restart, and a
// secret never has to sit in an environment variable.
import { readFile } from "node:fs/promises";

export class CredentialFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialFileError";
  }
}

export class CredentialFile {
  private cached?: string;
  private pending?: Promise<string>;
  /** How often the file was read, for tests and logs. */
  reads = 0;

  /** `what` names the credential in errors ("the MQTT password"); the content itself never appears in one. */
  constructor(readonly path: string, private readonly what: string,
    private readonly read: (path: string) => Promise<string> = (p) => readFile(p, "utf8")) {}

  /** The credential: the cached value, or the file's content without its trailing newline. */
  async value(): Promise<string> {
    if (this.cached !== undefined) return this.cached;
    this.pending ??= this.load().finally(() => { this.pending = undefined; });
    return this.pending;
  }

  /** The server refused the value: the next value() reads the file again. */
  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<string> {
    let text: string;
    try {
      text = await this.read(this.path);
    } catch (err) {
      throw new CredentialFileError(`cannot read ${this.what} from "${this.path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    this.reads++;
    const value = text.replace(/\r?\n$/, "");
    if (value.trim() === "") throw new CredentialFileError(`${this.what} file "${this.path}" is empty`);
    this.cached = value;
    return value;
  }
}
