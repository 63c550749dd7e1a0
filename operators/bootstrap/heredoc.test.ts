import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { asHereDocText, chooseTerminator, hereDocFile, TERMINATOR_PREFIX, terminatorIsAbsent } from "./heredoc.js";
import { SHELLS } from "../../e2e/support/bootstrap/scripts.js";

/** A random source that replays the given suffixes in order. */
function scripted(...suffixes: string[]): () => string {
  let i = 0;
  return () => {
    const s = suffixes[i++];
    if (s === undefined) throw new Error("scripted random source exhausted");
    return s;
  };
}

const ADVERSARIAL = [
  "EOF\nEND\nTERM\n'EOF'\nGRAFT_EOF\nGRAFT_EOF_\n",
  `${TERMINATOR_PREFIX}aaaa\n`,                  // a whole line equal to the first candidate
  `  indented ${TERMINATOR_PREFIX}bbbb tail\n`,   // the second candidate inside a line
  "$HOME ${HOME} $(echo no) `echo no` \\\n$& $' $` $1 \\\\ \"'\" \n",
  "\ttab-indented\n\nblank above\r\nCRLF line\r\n   trailing spaces   \n",
  "no final newline",
];

describe("here-doc terminator", () => {
  it("is redrawn while it occurs anywhere in the content, as a line or inside one", () => {
    const t = chooseTerminator(ADVERSARIAL, scripted("aaaa", "bbbb", "cccc"));
    assert.equal(t, `${TERMINATOR_PREFIX}cccc`);
    assert.ok(terminatorIsAbsent(t, ADVERSARIAL));
  });

  it("is absent from every content, over many random draws against content built from terminator-like text", () => {
    for (let i = 0; i < 200; i++) {
      const contents = [...ADVERSARIAL, `${TERMINATOR_PREFIX}\n${TERMINATOR_PREFIX}${i}\n`.repeat(i % 7)];
      const t = chooseTerminator(contents);
      assert.match(t, /^GRAFT_EOF_[0-9a-f]{24}$/);
      for (const content of contents) {
        assert.ok(!content.includes(t));
        assert.ok(!content.split("\n").includes(t), "no content line may equal the terminator");
      }
    }
  });

  it("refuses a random source that never yields an absent or valid terminator", () => {
    assert.throws(() => chooseTerminator([`${TERMINATOR_PREFIX}x`], () => "x"), /no here-doc terminator absent/);
    assert.throws(() => chooseTerminator([], () => "a'b"), /letters, digits and underscores only/);
  });
});

describe("hereDocFile", () => {
  it("carries every byte literally under dash, bash and busybox sh", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "graft-heredoc-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const terminator = chooseTerminator(ADVERSARIAL);
    const script = `set -eu\n${ADVERSARIAL.map((content, i) => hereDocFile(`f${i}.txt`, content, terminator, "D")).join("")}`;
    for (const shell of SHELLS) {
      execFileSync(shell.argv[0]!, [...shell.argv.slice(1), "-c", script], { env: { ...process.env, D: dir } });
      ADVERSARIAL.forEach((content, i) => {
        assert.deepEqual(readFileSync(join(dir, `f${i}.txt`)), Buffer.from(asHereDocText(content)), `${shell.name} changed content ${i}`);
        rmSync(join(dir, `f${i}.txt`));
      });
    }
  });

  it("refuses what a here-doc cannot carry", () => {
    assert.throws(() => hereDocFile("a.txt", "x\0y", "GRAFT_EOF_1", "D"), /NUL byte/);
    assert.throws(() => hereDocFile("../a", "x", "GRAFT_EOF_1", "D"), /not safe to embed/);
    assert.throws(() => hereDocFile("a b", "x", "GRAFT_EOF_1", "D"), /not safe to embed/);
    assert.throws(() => hereDocFile("a.txt", "x\nGRAFT_EOF_1\n", "GRAFT_EOF_1", "D"), /contains the here-doc terminator/);
  });

  it("writes to the named directory variable with a quoted terminator", () => {
    assert.equal(hereDocFile("a.yaml", "k: v", "GRAFT_EOF_1", "DIR"), `cat >"$DIR/a.yaml" <<'GRAFT_EOF_1'\nk: v\nGRAFT_EOF_1\n`);
  });
});
