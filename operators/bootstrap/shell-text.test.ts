import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { shellAssignment, shellQuote } from "./shell-quote.js";
import { renderTemplate } from "./template.js";
import { HOSTILE_PASSWORD, HOSTILE_TOKEN, SHELLS } from "../../e2e/support/bootstrap/scripts.js";

const VALUES = [HOSTILE_PASSWORD, HOSTILE_TOKEN, "", "'", "''", "a'b", "\\'", "$(echo INJECTED)", "`id`", "-n", "%s %d\\n", "ünïcödé ✓"];

describe("shellQuote", () => {
  it("round-trips hostile values through dash, bash and busybox sh", () => {
    for (const shell of SHELLS) {
      for (const value of VALUES) {
        const out = execFileSync(shell.argv[0]!, [...shell.argv.slice(1), "-c", `printf '%s' ${shellQuote(value)}`], { encoding: "utf8" });
        assert.equal(out, value, `${shell.name} changed ${JSON.stringify(value)}`);
      }
    }
  });

  it("assigns only to plain lower-case variable names and refuses NUL", () => {
    assert.equal(shellAssignment("cluster_name", "it's"), `cluster_name='it'\\''s'`);
    assert.throws(() => shellAssignment("PATH", "x"), /lower-case shell variable name/);
    assert.throws(() => shellAssignment("a;b", "x"), /lower-case shell variable name/);
    assert.throws(() => shellQuote("a\0b"), /NUL byte/);
  });
});

describe("renderTemplate", () => {
  it("substitutes values literally: replacement patterns and backslashes survive", () => {
    const tricky = "$& $' $` $1 $$ $<name> \\ \\\\ \\n";
    assert.equal(renderTemplate("a={{v}} b={{ v }};", { v: tricky }), `a=${tricky} b=${tricky};`);
    // What the naive form would have produced, to show the test can tell the difference.
    assert.notEqual("a={{v}}".replace("{{v}}", tricky), `a=${tricky}`);
  });

  it("names a placeholder that has no value", () => {
    assert.throws(() => renderTemplate("{{realm}} {{domain}}", { realm: "R" }), /template placeholder "\{\{domain\}\}" has no value/);
    assert.throws(() => renderTemplate("{{constructor}}", {}), /has no value/);
  });
});
