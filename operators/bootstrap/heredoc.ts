// Shell here-documents that carry file contents verbatim. The terminator is quoted (`<<'T'`), so the shell
// expands nothing inside, and it is chosen at random until it occurs nowhere in any content: a here-doc ends only
// at a line equal to its terminator, and a string that is not a substring of the content cannot be such a line.
import { randomBytes } from "node:crypto";

export const TERMINATOR_PREFIX = "GRAFT_EOF_";
const MAX_ATTEMPTS = 64;

const randomSuffix = (): string => randomBytes(12).toString("hex");

/** True when `terminator` occurs in none of `contents`, so no line of them can end a here-doc early. */
export function terminatorIsAbsent(terminator: string, contents: readonly string[]): boolean {
  return contents.every((content) => !content.includes(terminator));
}

/**
 * Picks a terminator absent from every content, drawing again while one is found. `suffix` is the random source
 * (tests pass a scripted one to force collisions).
 */
export function chooseTerminator(contents: readonly string[], suffix: () => string = randomSuffix): string {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const candidate = TERMINATOR_PREFIX + suffix();
    if (!/^[A-Za-z0-9_]+$/.test(candidate)) {
      throw new Error(`here-doc terminator "${candidate}" must be letters, digits and underscores only`);
    }
    if (terminatorIsAbsent(candidate, contents)) return candidate;
  }
  throw new Error(`no here-doc terminator absent from the content after ${MAX_ATTEMPTS} attempts: the random source is broken`);
}

const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Text as a here-doc carries it: always ending in a newline (a here-doc cannot end without one). */
export function asHereDocText(content: string): string {
  return content.endsWith("\n") ? content : `${content}\n`;
}

/**
 * A command writing `content` to `$dirVariable/fileName`. The content must not contain NUL (no shell can hold it)
 * and gains a final newline when it lacks one.
 */
export function hereDocFile(fileName: string, content: string, terminator: string, dirVariable: string): string {
  if (!SAFE_FILE_NAME.test(fileName)) throw new Error(`file name "${fileName}" is not safe to embed: use letters, digits, ".", "_" and "-"`);
  if (content.includes("\0")) throw new Error(`file "${fileName}" contains a NUL byte, which a shell here-doc cannot carry`);
  if (content.includes(terminator)) throw new Error(`file "${fileName}" contains the here-doc terminator "${terminator}"`);
  return `cat >"$${dirVariable}/${fileName}" <<'${terminator}'\n${asHereDocText(content)}${terminator}\n`;
}
