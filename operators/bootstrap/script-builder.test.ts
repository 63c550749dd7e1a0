import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { asHereDocText } from "./heredoc.js";
import { bootstrapFiles, buildBootstrapScript, fluxVersionOf, type BootstrapScriptInput } from "./script-builder.js";
import { HOSTILE_PASSWORD, HOSTILE_TOKEN, runScript, sampleInput, SHELLS } from "../../e2e/support/bootstrap/scripts.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const HOSTILE_NAME = `it's "$HOME" \\ $& $' \`x\``;
const embedded = () => sampleInput({ name: HOSTILE_NAME, namespace: "fplus-edge" });
const kerberos = () => sampleInput({ name: "kilo", namespace: "fplus-edge", mode: "kerberos" });

function shellcheck(args: string[], input?: string): { code: number; output: string } {
  const r = spawnSync("shellcheck", ["-s", "sh", ...args], { input, encoding: "utf8" });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, output: r.stdout + r.stderr };
}

describe("buildBootstrapScript", () => {
  it("never puts credentials into the script as text, only base64 inside the Secret manifest", () => {
    const script = buildBootstrapScript(embedded());
    for (const secret of [HOSTILE_PASSWORD, HOSTILE_TOKEN, "$(echo INJECTED)", "tok$1$$&"]) {
      assert.equal(script.includes(secret), false, `${JSON.stringify(secret)} appears in the script`);
    }
    assert.ok(script.includes(Buffer.from(HOSTILE_PASSWORD).toString("base64")));
  });

  it("uses one quoted terminator that closes each file and occurs nowhere else", () => {
    const input = embedded();
    const script = buildBootstrapScript(input);
    const files = bootstrapFiles(input);
    const terminator = /<<'(GRAFT_EOF_[0-9a-f]+)'/.exec(script)?.[1];
    assert.ok(terminator);
    const lines = script.split("\n");
    assert.equal(lines.filter((l) => l.includes(terminator)).length, 2 * Object.keys(files).length);
    assert.equal(lines.filter((l) => l === terminator).length, Object.keys(files).length);
    for (const content of Object.values(files)) assert.equal(content.includes(terminator), false);
    assert.notEqual(terminator, /<<'(GRAFT_EOF_[0-9a-f]+)'/.exec(buildBootstrapScript(input))?.[1], "the terminator is random per script");
  });

  it("carries the files each mode needs", () => {
    assert.deepEqual(Object.keys(bootstrapFiles(embedded())).sort(),
      ["cluster-config.yaml", "credentials.yaml", "driver.sh", "flux-install.yaml", "self-link.yaml", "settings.sh"]);
    assert.deepEqual(Object.keys(bootstrapFiles(kerberos())).sort(),
      ["cluster-config.yaml", "driver.sh", "enrol-pod.yaml", "flux-install.yaml", "krb5.conf", "self-link.yaml", "settings.sh"]);
    assert.equal(bootstrapFiles(embedded())["driver.sh"], readFileSync(join(here, "driver.sh"), "utf8"));
  });

  it("runs the enrolment Pod with graft enrol and the documented flags (Kerberos mode)", () => {
    type Doc = { kind: string; metadata: { name: string }; data: Record<string, string>;
      spec: { containers: { command: string[]; stdin: boolean; tty: boolean }[] } };
    const docs = parseAllDocuments(bootstrapFiles(kerberos())["enrol-pod.yaml"]!).map((d) => d.toJS() as Doc);
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`),
      ["ServiceAccount/edge-bootstrap", "RoleBinding/edge-bootstrap", "ConfigMap/krb5-conf", "Pod/edge-bootstrap"]);
    const container = docs[3]!.spec.containers[0]!;
    assert.deepEqual(container.command, ["graft", "enrol", "--cluster", "kilo", "--namespace", "fplus-edge",
      "--realm", "EDGE.TEST", "--kadmin-server", "kadmin.edge.test"]);
    assert.equal(container.stdin, true);
    assert.equal(container.tty, true);
    const krb5 = docs[2]!.data["krb5.conf"]!;
    for (const line of ["default_realm = EDGE.TEST", "dns_canonicalize_hostname = false", "udp_preference_limit = 1",
      ".edge.test = EDGE.TEST", "kdc = 127.0.0.1:8888", "admin_server = kadmin.edge.test"]) {
      assert.ok(krb5.includes(line), `krb5.conf lacks "${line}"`);
    }
  });

  it("refuses input it cannot turn into a working script, saying what is wrong", () => {
    const cases: [string, (i: BootstrapScriptInput) => void, RegExp][] = [
      ["embedded without credentials", (i) => { delete i.credentials; }, /credentials: embedded mode needs the cluster's credentials/],
      ["kerberos without settings", (i) => { i.mode = "kerberos"; delete i.kerberos; }, /kerberos: kerberos mode needs the realm/],
      ["bad namespace", (i) => { i.cluster.namespace = "Edge_NS"; }, /cluster\.namespace: must be a DNS label/],
      ["multi-line name", (i) => { i.cluster.name = "a\nb"; }, /cluster\.name: must be one line/],
      ["bad uuid", (i) => { i.cluster.uuid = "nope"; }, /cluster\.uuid: must be a UUID/],
      ["NUL in a password", (i) => { i.credentials!.gitPassword = "a\0b"; }, /credentials\.gitPassword: must not contain a NUL byte/],
      ["self-link elsewhere", (i) => { i.selfLinkYaml = i.selfLinkYaml.split("namespace: fplus-edge").join("namespace: other"); },
        /no Kustomization "self-link" in namespace "fplus-edge"/],
      ["self-link not YAML", (i) => { i.selfLinkYaml = "a: [b"; }, /self-link manifest is not valid YAML/],
      ["unknown Flux release", (i) => { i.fluxInstallYaml = "kind: Namespace\n"; }, /cannot tell which Flux release/],
      ["bad CRD version", (i) => { i.fluxCrdsVersionsNeeded = { "x.y": "1" }; }, /must be an API version/],
    ];
    for (const [label, mutate, expected] of cases) {
      const input = structuredClone(embedded());
      mutate(input);
      assert.throws(() => buildBootstrapScript(input), expected, label);
    }
  });

  it("reads the Flux release from the pinned install manifest", () => {
    assert.equal(fluxVersionOf("---\n# Flux version: v2.3.0\n# Components: x\n"), "v2.3.0");
    assert.equal(fluxVersionOf("metadata:\n  labels:\n    app.kubernetes.io/version: v2.9.5\n"), "v2.9.5");
    const pinned = readFileSync(join(here, "../../config/flux/install.yaml"), "utf8");
    assert.match(fluxVersionOf(pinned), /^v2\.\d+\.\d+$/);
  });
});

describe("the generated script under dash, bash and busybox sh (no cluster needed)", () => {
  it("--unpack writes every file byte-for-byte, settings read back exactly, and the temp dir is removed", async (t) => {
    const work = mkdtempSync(join(tmpdir(), "graft-unpack-"));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const input = embedded();
    const files = bootstrapFiles(input);
    const script = buildBootstrapScript(input);
    for (const shell of SHELLS) {
      const scratch = mkdtempSync(join(work, "tmp-"));
      const out = join(work, `out-${shell.argv.join("-")}`);
      const r = await runScript(shell.argv, { text: script }, ["--unpack", out], { ...process.env, TMPDIR: scratch });
      assert.equal(r.code, 0, `${shell.name}: ${r.stderr}`);
      assert.match(r.stdout, /nothing was changed on any cluster/);
      assert.deepEqual(readdirSync(scratch), [], `${shell.name} left its temporary directory behind`);
      assert.deepEqual(readdirSync(out).sort(), Object.keys(files).sort());
      for (const [name, content] of Object.entries(files)) {
        assert.deepEqual(readFileSync(join(out, name)), Buffer.from(asHereDocText(content)), `${shell.name}: ${name} differs`);
      }
      const name = execFileSync(shell.argv[0]!, [...shell.argv.slice(1), "-c", '. "$1/settings.sh"; printf %s "$cluster_name"', "sh", out], { encoding: "utf8" });
      assert.equal(name, HOSTILE_NAME);
      const secrets = parseAllDocuments(readFileSync(join(out, "credentials.yaml"), "utf8")).map((d) => d.toJS() as { data: Record<string, string> });
      assert.equal(Buffer.from(secrets[0]!.data.password!, "base64").toString(), HOSTILE_PASSWORD);
      assert.equal(Buffer.from(secrets[1]!.data.token!, "base64").toString(), HOSTILE_TOKEN);
      const config = parseAllDocuments(readFileSync(join(out, "cluster-config.yaml"), "utf8"))[0]!.toJS() as { data: Record<string, string> };
      assert.equal(config.data.CLUSTER_NAME, HOSTILE_NAME);
    }
  });

  it("--help explains the options; a bad option exits 2 with a pointer to --help", async () => {
    const script = buildBootstrapScript(embedded());
    for (const shell of SHELLS) {
      const help = await runScript(shell.argv, { text: script }, ["--help"], process.env);
      assert.equal(help.code, 0, help.stderr);
      for (const flag of ["--yes", "--no-wait", "--wait-timeout", "--local", "--unpack", "GRAFT_BOOTSTRAP_YES", "KUBECTL"]) {
        assert.ok(help.stdout.includes(flag), `${shell.name} --help lacks ${flag}`);
      }
      // `curl … | sh -s -- --help` spent the link: say so, and how to run it.
      const spent = /note: the one-time link this script came from is now used up; to run it, get a new one where this one came from/;
      assert.match(help.stdout, spent);
      const bad = await runScript(shell.argv, { text: script }, ["--wait-timeout", "soon"], process.env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /error: --wait-timeout needs a duration such as 90s, 5m or 1h, not "soon"\n {2}run with --help/);
      assert.match(bad.stderr, spent);
    }
  });
});

describe("shellcheck", () => {
  it("passes driver.sh", () => {
    const r = shellcheck([join(here, "driver.sh")]);
    assert.equal(r.code, 0, r.output);
  });

  it("passes generated scripts of both modes (with the pinned Flux manifest) and their settings files", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "graft-shellcheck-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const fluxInstallYaml = readFileSync(join(here, "../../config/flux/install.yaml"), "utf8");
    for (const mode of ["embedded", "kerberos"] as const) {
      const input = { ...sampleInput({ name: HOSTILE_NAME, namespace: "fplus-edge", mode }), fluxInstallYaml };
      const r = shellcheck(["-"], buildBootstrapScript(input));
      assert.equal(r.code, 0, `${mode} script: ${r.output}`);
      writeFileSync(join(dir, `settings-${mode}.sh`), bootstrapFiles(input)["settings.sh"]!);
      const s = shellcheck([join(dir, `settings-${mode}.sh`)]);
      assert.equal(s.code, 0, `${mode} settings.sh: ${s.output}`);
    }
  });

  it("would report a problem (so a pass means something)", () => {
    const r = shellcheck(["-"], '#!/bin/sh\necho $1\n');
    assert.notEqual(r.code, 0);
    assert.match(r.output, /SC2086/);
  });
});
