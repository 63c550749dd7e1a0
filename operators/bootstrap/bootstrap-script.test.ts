// The generated bootstrap script run by dash, bash and busybox sh against a real edge kube-apiserver (no kubelet,
// no Flux controllers: so --no-wait, or a short --wait-timeout where the wait itself is under test).
// The scenarios share one API server and run in order, because Flux's CRDs are cluster-wide: first an old Flux
// is refused, then it is removed and the script installs the pinned Flux, then later runs find that Flux present.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { buildBootstrapScript } from "./script-builder.js";
import { shellQuote } from "./shell-quote.js";
import { HOSTILE_PASSWORD, HOSTILE_TOKEN, runCommand, runScript, sampleInput, SHELLS, type RunResult } from "../../e2e/support/bootstrap/scripts.js";

const fixtures = fileURLToPath(new URL("../../e2e/support/bootstrap/fixtures/", import.meta.url));
const oldFluxFixture = join(fixtures, "old-flux.yaml");
const pinnedFluxInstall = fileURLToPath(new URL("../../config/flux/install.yaml", import.meta.url));
const fluxInstallPath = existsSync(pinnedFluxInstall) ? pinnedFluxInstall : join(fixtures, "flux-install-minimal.yaml");
const fluxInstallYaml = readFileSync(fluxInstallPath, "utf8");
const FLUX_CRDS = ["gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io"];

const [dash, bash, busybox] = SHELLS.map((s) => s.argv);

describe("bootstrap script against a real edge API server", { concurrency: false }, () => {
  let cp: ControlPlane;
  let work: string;

  before(async () => {
    cp = await startControlPlane({ name: "edge" });
    work = mkdtempSync(join(tmpdir(), "graft-bootstrap-test-"));
    if (fluxInstallPath !== pinnedFluxInstall) console.log(`# config/flux/install.yaml missing: using ${fluxInstallPath}`);
  });
  after(async () => {
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const { GRAFT_BOOTSTRAP_YES: _unused, ...rest } = process.env;
    return { ...rest, KUBECTL: cp.kubectlPath, KUBECONFIG: cp.kubeconfigPath, ...extra };
  };
  const kubectl = async (...args: string[]) => {
    const r = await cp.kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  const exists = async (...args: string[]) => (await cp.kubectl(["get", ...args])).code === 0;
  const getJson = async <T>(...args: string[]) => JSON.parse(await kubectl("get", ...args, "-o", "json")) as T;
  const script = (name: string, namespace: string) =>
    buildBootstrapScript(sampleInput({ name, namespace, fluxInstallYaml }));
  const explain = (r: RunResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

  async function assertBootstrapped(namespace: string, name: string) {
    assert.ok(await exists("namespace", namespace), `namespace "${namespace}" missing`);
    type Secret = { data: Record<string, string>; metadata: { labels: Record<string, string> } };
    const decode = (s: Secret, key: string) => Buffer.from(s.data[key]!, "base64").toString("utf8");
    const flux = await getJson<Secret>("-n", namespace, "secret", "flux-secrets");
    assert.equal(decode(flux, "username"), `edge-${name}`);
    assert.equal(decode(flux, "password"), HOSTILE_PASSWORD, "password must survive byte-for-byte");
    assert.equal(flux.metadata.labels["app.kubernetes.io/managed-by"], "graft");
    const sync = await getJson<Secret>("-n", namespace, "secret", "edge-sync-token");
    assert.equal(decode(sync, "token"), HOSTILE_TOKEN, "token must survive byte-for-byte");
    const config = await getJson<{ data: Record<string, string> }>("-n", namespace, "configmap", "cluster-config");
    const input = sampleInput({ name, namespace });
    assert.deepEqual(config.data, {
      CLUSTER_UUID: input.cluster.uuid, CLUSTER_NAME: name, CLUSTER_NAMESPACE: namespace,
      SPARKPLUG_GROUP: `GRAFT-${name}`, CENTRAL_URL: input.urls.central, GIT_URL: input.urls.git, STATUS_URL: input.urls.status,
    });
    const repo = await getJson<{ spec: { url: string; secretRef: { name: string } } }>("-n", namespace, "gitrepositories.v1.source.toolkit.fluxcd.io", "self-link");
    assert.equal(repo.spec.url, input.urls.git);
    assert.equal(repo.spec.secretRef.name, "flux-secrets");
    const ks = await getJson<{ spec: { sourceRef: { name: string } } }>("-n", namespace, "kustomizations.v1.kustomize.toolkit.fluxcd.io", "self-link");
    assert.equal(ks.spec.sourceRef.name, "self-link");
  }

  it("refuses an old Flux (CRDs not serving v1/v1/v2) with a clear message and creates nothing", async () => {
    await kubectl("apply", "--server-side", "-f", oldFluxFixture);
    await kubectl("wait", "--for=condition=Established", "--timeout=60s", ...FLUX_CRDS.map((c) => `crd/${c}`));

    const r = await runScript(dash!, { text: script("old", "edge-old") }, ["--yes", "--no-wait"], env());
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /error: the Flux installed on this cluster cannot run graft's manifests/);
    assert.match(r.stderr, /CRD "gitrepositories\.source\.toolkit\.fluxcd\.io" serves only v1beta2 but graft needs v1/);
    assert.match(r.stderr, /CRD "kustomizations\.kustomize\.toolkit\.fluxcd\.io" serves only v1beta2 but graft needs v1/);
    assert.match(r.stderr, /CRD "helmreleases\.helm\.toolkit\.fluxcd\.io" serves only v2beta1 but graft needs v2/);
    assert.match(r.stderr, /graft needs Flux 2\.3 or later .*upgrade the Flux on this cluster/);
    assert.match(r.stdout, /found Deployment "flux-system\/helm-controller"/);
    assert.equal(await exists("namespace", "edge-old"), false, "nothing may be created when Flux is refused");

    // Remove the old Flux but keep namespace flux-system: with no kube-controller-manager a namespace never
    // finishes terminating.
    await kubectl("-n", "flux-system", "delete", "deployment", "helm-controller");
    await kubectl("delete", "--wait=true", "--timeout=60s", ...FLUX_CRDS.map((c) => `crd/${c}`));
    await eventually(async () => !(await Promise.all(FLUX_CRDS.map((c) => exists("crd", c)))).some(Boolean),
      { timeoutMs: 60_000, message: "old Flux CRDs were not removed" });
  });

  it("dash, script piped on stdin: with no Flux present, installs the pinned Flux and creates namespace, Secrets, ConfigMap and self-link", async () => {
    const r = await runScript(dash!, { text: script("alpha", "edge-alpha") }, ["--yes", "--no-wait"], env());
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /==> Target cluster\n {4}kubectl context: edge\n {4}API server: +https:\/\/127\.0\.0\.1:/);
    assert.match(r.stdout, /no Flux found: Flux v[0-9.]+ will be installed/);
    assert.match(r.stdout, /==> Installing Flux v/);
    assert.match(r.stdout, /==> Not waiting for Flux \(--no-wait\)/);
    await assertBootstrapped("edge-alpha", "alpha");
    assert.ok(await exists("-n", "flux-system", "deployment", "helm-controller"), "the Flux install manifest was not applied");
    for (const crd of FLUX_CRDS) assert.ok(await exists("crd", crd), `CRD "${crd}" missing after installing Flux`);
    assert.equal(r.stdout.includes(HOSTILE_PASSWORD.slice(0, 8)) || r.stderr.includes(HOSTILE_PASSWORD.slice(0, 8)), false,
      "the script must not print the password");
  });

  it("bash, script from a file: accepts the Flux now present (CRDs serve v1/v1/v2) and does not reinstall it", async () => {
    const path = join(work, "bravo.sh");
    writeFileSync(path, script("bravo", "edge-bravo"));
    await kubectl("-n", "flux-system", "label", "deployment", "helm-controller", "graft-test/marker=kept");
    const r = await runScript(bash!, { path }, ["--yes", "--no-wait"], env());
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /Flux is installed and serves the API versions graft needs: leaving it as it is/);
    assert.doesNotMatch(r.stdout, /==> Installing Flux/);
    await assertBootstrapped("edge-bravo", "bravo");
    const labels = await kubectl("-n", "flux-system", "get", "deployment", "helm-controller", "-o", "jsonpath={.metadata.labels.graft-test/marker}");
    assert.equal(labels, "kept", "the existing Flux must be left alone");
  });

  it("busybox sh with GRAFT_BOOTSTRAP_YES=1: bootstraps too, and a re-run is safe", async () => {
    const text = script("charlie", "edge-charlie");
    const first = await runScript(busybox!, { text }, ["--no-wait"], env({ GRAFT_BOOTSTRAP_YES: "1" }));
    assert.equal(first.code, 0, explain(first));
    assert.match(first.stdout, /confirmed by --yes/);
    await assertBootstrapped("edge-charlie", "charlie");
    const again = await runScript(busybox!, { text }, ["--no-wait", "-y"], env());
    assert.equal(again.code, 0, explain(again));
    assert.match(again.stdout, /namespace "edge-charlie"\n {4}already exists/);
    await assertBootstrapped("edge-charlie", "charlie");
  });

  it("waits for Kustomization self-link: Ready passes, a timeout explains how to inspect it", async () => {
    const text = script("bravo", "edge-bravo");
    const timedOut = await runScript(dash!, { text }, ["--yes", "--wait-timeout", "2s"], env());
    assert.equal(timedOut.code, 1, explain(timedOut));
    assert.match(timedOut.stderr, /Kustomization "edge-bravo\/self-link" did not become Ready within 2s/);
    assert.match(timedOut.stderr, /kubectl -n edge-bravo describe kustomization self-link/);
    assert.match(timedOut.stderr, /kubectl -n flux-system logs deploy\/kustomize-controller/);

    // What kustomize-controller would record once the repository is applied.
    const generation = (await kubectl("-n", "edge-bravo", "get", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link", "-o", "jsonpath={.metadata.generation}")).trim();
    const status = { status: { observedGeneration: Number(generation), conditions: [{
      type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:0000",
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"), observedGeneration: Number(generation),
    }] } };
    await kubectl("-n", "edge-bravo", "patch", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link", "--subresource=status",
      "--type=merge", "-p", JSON.stringify(status));
    const ready = await runScript(dash!, { text }, ["--yes", "--wait-timeout=30s"], env());
    assert.equal(ready.code, 0, explain(ready));
    assert.match(ready.stdout, /==> Waiting up to 30s for Flux to reconcile Kustomization "edge-bravo\/self-link"\n {4}Ready/);
  });

  it("does not overwrite an existing flux-secrets Secret that graft did not create", async () => {
    await kubectl("create", "namespace", "edge-delta");
    await kubectl("-n", "edge-delta", "create", "secret", "generic", "flux-secrets", "--from-literal=username=someone-else", "--from-literal=password=theirs");
    const r = await runScript(busybox!, { text: script("delta", "edge-delta") }, ["--yes", "--no-wait"], env());
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /secret\/flux-secrets already exists in namespace "edge-delta" and was not created by graft/);
    assert.match(r.stderr, /kubectl -n edge-delta delete secret\/flux-secrets/);
    const secret = await getJson<{ data: Record<string, string> }>("-n", "edge-delta", "secret", "flux-secrets");
    assert.equal(Buffer.from(secret.data.username!, "base64").toString(), "someone-else");
    assert.equal(Buffer.from(secret.data.password!, "base64").toString(), "theirs");
    assert.equal(await exists("-n", "edge-delta", "secret", "edge-sync-token"), false);
    assert.equal(await exists("-n", "edge-delta", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"), false);
  });

  it("without --yes and with no terminal to ask on, stops before changing anything", async () => {
    const r = await runScript(dash!, { text: script("echo", "edge-echo") }, ["--no-wait"], env());
    assert.equal(r.code, 1, explain(r));
    // Served from a one-time link: running it again takes a new link, with --yes passed through sh.
    assert.match(r.stderr, /error: there is no terminal to ask for confirmation on\n {2}nothing was changed; to go ahead without asking, run it with --yes \(or GRAFT_BOOTSTRAP_YES=1\)/);
    assert.ok(r.stderr.includes("curl -fsSL '<new link>' | sh -s -- --yes"), explain(r));
    assert.match(r.stderr, /this script's link works only once: get a new one where this one came from/);
    // A script built without a link (run from a file) says only to add --yes.
    const input = sampleInput({ name: "echo", namespace: "edge-echo", fluxInstallYaml });
    const saved = await runScript(dash!, { text: buildBootstrapScript({ ...input, urls: { ...input.urls, bootstrap: undefined } }) }, ["--no-wait"], env());
    assert.equal(saved.code, 1, explain(saved));
    assert.match(saved.stderr, /error: there is no terminal to ask for confirmation on\n {2}re-run with --yes \(or GRAFT_BOOTSTRAP_YES=1\)/);
    assert.equal(await exists("namespace", "edge-echo"), false);
  });

  it("asks on /dev/tty (a pseudo-terminal from util-linux script): \"n\" changes nothing, \"y\" goes ahead", async () => {
    const path = join(work, "juliet.sh");
    writeFileSync(path, script("juliet", "edge-juliet"));
    const onTerminal = (answer: string) =>
      runCommand(["script", "-q", "-e", "-c", `busybox sh ${shellQuote(path)} --no-wait`, "/dev/null"], `${answer}\n`, env());

    const no = await onTerminal("n");
    assert.equal(no.code, 1, explain(no));
    assert.match(no.stdout, /Bootstrap this cluster as edge cluster "juliet"\? \[y\/N\]/);
    assert.match(no.stdout, /error: not confirmed: nothing was changed/);
    assert.equal(await exists("namespace", "edge-juliet"), false);

    const yes = await onTerminal("y");
    assert.equal(yes.code, 0, explain(yes));
    await assertBootstrapped("edge-juliet", "juliet");
  });

  it("fails with an actionable message when kubectl cannot reach the cluster", async () => {
    const r = await runScript(dash!, { text: script("foxtrot", "edge-foxtrot") }, ["--yes"],
      env({ KUBECONFIG: join(work, "no-such-kubeconfig") }));
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /error: cannot list the nodes of the target cluster: .+\n {2}check that kubectl reaches the cluster you mean/);
  });

  describe("Kerberos mode", () => {
    const kerberosScript = (name: string, namespace: string) =>
      buildBootstrapScript(sampleInput({ name, namespace, fluxInstallYaml, mode: "kerberos" }));

    // Stands in for `graft enrol` (another module's command): records how the driver calls it and, like the real
    // command, writes Secret flux-secrets in the namespace it is given.
    function enrolStandIn(createSecret: boolean): { path: string; argsFile: string } {
      const dir = mkdtempSync(join(work, "enrol-"));
      const argsFile = join(dir, "args");
      const path = join(dir, "graft");
      writeFileSync(path, [
        "#!/bin/sh",
        `printf '%s\\n' "$@" >'${argsFile}'`,
        `printf 'KRB5_CONFIG=%s\\n' "$KRB5_CONFIG" >>'${argsFile}'`,
        `cp "$KRB5_CONFIG" '${argsFile}.krb5'`,
        createSecret
          ? 'while [ $# -gt 0 ]; do [ "$1" = --namespace ] && ns=$2; shift; done\n' +
            '"$KUBECTL" -n "$ns" create secret generic flux-secrets --from-literal=username=op1flux/x@EDGE.TEST --from-literal=password=pw >/dev/null'
          : "exit 0",
        "",
      ].join("\n"));
      chmodSync(path, 0o755);
      return { path, argsFile };
    }

    it("--local runs graft enrol with the documented flags and the script's krb5.conf", async () => {
      const standIn = enrolStandIn(true);
      const r = await runScript(busybox!, { text: kerberosScript("golf", "edge-golf") }, ["--yes", "--no-wait", "--local"],
        env({ GRAFT: standIn.path }));
      assert.equal(r.code, 0, explain(r));
      const lines = readFileSync(standIn.argsFile, "utf8").trim().split("\n");
      assert.deepEqual(lines.slice(0, -1), ["enrol", "--local", "--cluster", "golf", "--namespace", "edge-golf",
        "--realm", "EDGE.TEST", "--kadmin-server", "kadmin.edge.test"]);
      const krb5 = readFileSync(`${standIn.argsFile}.krb5`, "utf8");
      assert.match(krb5, /default_realm = EDGE\.TEST/);
      assert.match(krb5, /kdc = 127\.0\.0\.1:8888/);
      const config = await getJson<{ data: Record<string, string> }>("-n", "edge-golf", "configmap", "cluster-config");
      assert.equal(config.data.REALM, "EDGE.TEST");
      assert.equal(await exists("-n", "edge-golf", "secret", "edge-sync-token"), false, "Kerberos mode carries no embedded token");
      assert.ok(await exists("-n", "edge-golf", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"));
    });

    it("fails clearly when enrolment did not create flux-secrets", async () => {
      const standIn = enrolStandIn(false);
      const r = await runScript(dash!, { text: kerberosScript("hotel", "edge-hotel") }, ["--yes", "--no-wait", "--local"],
        env({ GRAFT: standIn.path }));
      assert.equal(r.code, 1, explain(r));
      assert.match(r.stderr, /enrolment did not create Secret "edge-hotel\/flux-secrets"/);
      assert.equal(await exists("-n", "edge-hotel", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"), false);
    });

    it("without --local and without a terminal, says so before creating the enrolment Pod", async () => {
      const r = await runScript(dash!, { text: kerberosScript("kilo", "edge-kilo") }, ["--yes", "--no-wait"], env());
      assert.equal(r.code, 1, explain(r));
      assert.match(r.stderr, /error: there is no terminal to answer the enrolment Pod's questions on\n {2}run this script from a terminal, or enrol from this machine with --local/);
      assert.equal(await exists("-n", "edge-kilo", "pod", "edge-bootstrap"), false);
      assert.equal(await exists("-n", "edge-kilo", "rolebinding", "edge-bootstrap"), false);
    });

    it("without --local, creates the edge-bootstrap Pod and, when it cannot start, removes it and says how to proceed", async () => {
      // On a terminal (util-linux script), as a person runs it: there stdout and stderr are both the terminal.
      const path = join(work, "india.sh");
      writeFileSync(path, kerberosScript("india", "edge-india"));
      const r = await runCommand(["script", "-q", "-e", "-c", `bash ${shellQuote(path)} --yes --no-wait --pod-timeout 2s`, "/dev/null"], "", env());
      assert.equal(r.code, 1, explain(r));
      assert.match(r.stdout, /the enrolment Pod "edge-india\/edge-bootstrap" did not start within 2s/);
      assert.match(r.stdout, /use --local to enrol from this machine/);
      assert.match(r.stdout, /waiting up to 2s for the Pod to start/, "the Pod manifest must have been accepted");
      const krb5 = await getJson<{ data: Record<string, string> }>("-n", "edge-india", "configmap", "krb5-conf");
      assert.match(krb5.data["krb5.conf"]!, /admin_server = kadmin\.edge\.test/);
      for (const kind of ["pod", "rolebinding", "serviceaccount"]) {
        await eventually(async () => !(await exists("-n", "edge-india", kind, "edge-bootstrap")),
          { timeoutMs: 30_000, message: `${kind} "edge-india/edge-bootstrap" (namespace admin) was left behind` });
      }
      assert.equal(await exists("-n", "edge-india", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"), false);
    });
  });
});
