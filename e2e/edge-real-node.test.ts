// The edge as users get it, embedded mode, on a real node (kubelet, containerd, CoreDNS; e2e/harness/real-node.ts). One
// real cluster plays both parts, in separate namespaces: the central install (`config/default`, the graft image built
// from the Dockerfile under the site's own reference (an overlay's `images:`), namespace graft-system) and the edge
// (namespace fplus-edge, Flux in flux-system, Sealed Secrets in sealed-secrets). The bootstrap command the
// cluster-manager serves is run with dash → Flux's controllers run as Pods and pull the cluster repository from the
// cluster-manager's Git endpoint → helm-controller installs the edge-cluster chart → edge-sync and the Sealed Secrets
// controller run as Pods and become Ready (graft's on the image the site set for the manager) → the EdgeCluster is
// Ready with the real Node's hostname, arch and kubelet version and the controller's certificate (fetched by edge-sync
// through the service proxy under the chart's RBAC) → a spec.values change reaches the installed release → `graft seal`
// of a value → the real controller creates the Secret with that value. Root on Linux only.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { KubeClient } from "../operators/runtime/rest.js";
import {
  applyEdgeCluster, CENTRAL_NS, EDGE_NS, EXTERNAL_URL, installCentral, runServedBootstrap,
} from "./support/real-node/embedded-site.js";
import { graftImage, realNodeSkipReason, type RealNode } from "./harness/real-node.js";
import { assertReportedRealHost, diagnosedWait, kubectlOn, startEdgeNode } from "./support/real-node/edge-node.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "operators/cli/main.ts");
const NAME = "line-r";
/** graft's image as the site's registry holds it (an overlay's `images:`): the manager and the edge components run it. */
const SITE_IMAGE = { name: "registry.graft.test/platform/graft", tag: "0.1.0-site" };

const skip = realNodeSkipReason();

describe("the edge on a real node (embedded mode)", { skip }, () => {
  let node: RealNode;
  let work: string;
  let client: KubeClient;

  const { kubectl, json } = kubectlOn(() => node);
  const ready = (o: { status?: { conditions?: Array<{ type: string; status: string }> } }) =>
    o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  const ec = () => client.get<EdgeCluster>(EdgeClusterType, NAME, CENTRAL_NS);
  /** What a person would look at when a wait times out. */
  const diagnose = async () => {
    const r = await node.cluster.kubectl(["get", "pods,helmreleases,kustomizations,gitrepositories", "-A", "-o", "wide"]);
    const events = await node.cluster.kubectl(["get", "events", "-A", "--sort-by=.lastTimestamp"]);
    const logs: string[] = [];
    for (const [ns, selector] of [[CENTRAL_NS, "app.kubernetes.io/name=cluster-manager"], [EDGE_NS, "app.kubernetes.io/part-of=graft"], ["flux-system", ""]] as const) {
      const l = await node.cluster.kubectl(["-n", ns, "logs", ...(selector ? ["-l", selector] : ["--all-pods", "deployment/helm-controller"]), "--all-containers", "--prefix", "--tail=15"]);
      logs.push(l.stdout + l.stderr);
    }
    return `${r.stdout}${r.stderr}\n${events.stdout.split("\n").slice(-25).join("\n")}\n${logs.join("\n")}`;
  };

  /** A step that throws, with the cluster's Pods, Flux objects and recent events in the error. */
  const waitForStep = async (fn: () => Promise<void>, what: string) => {
    try {
      await fn();
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}\n${await diagnose()}`);
    }
  };
  /** eventually(), with the cluster's Pods, Flux objects and recent events in the error when it times out. */
  const waitFor = diagnosedWait(diagnose);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "graft-edge-real-node-"));
    node = await startEdgeNode();
    client = new KubeClient(node.cluster.kubeConfig);
  });
  after(async () => {
    await node?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("bootstrap → Flux Pods → helm-controller installs the chart → edge Pods Ready → EdgeCluster Ready with the real Node; values and sealing reach the edge", { timeout: 900_000 }, async () => {
    // Central install, as a user runs it: config/default with EXTERNAL_URL set and graft's image from the site's
    // registry, on a volume the node provides.
    await node.tagImage(graftImage().reference, `${SITE_IMAGE.name}:${SITE_IMAGE.tag}`);
    await waitForStep(() => installCentral(node, work, { image: SITE_IMAGE }), "the central install");

    // An EdgeCluster and the one-time bootstrap command the cluster-manager serves, run with dash.
    await applyEdgeCluster(node, NAME);
    const boot = await runServedBootstrap(node, NAME, work);
    assert.match(boot.command, /^curl .*\| *sh/, boot.command);
    assert.ok(boot.url.startsWith(EXTERNAL_URL), boot.url);
    assert.match(boot.output, /==>/);

    // Flux's controllers run as Pods; helm-controller installs the chart from the cluster-manager's repository.
    for (const d of ["source-controller", "kustomize-controller", "helm-controller"]) {
      await kubectl(["-n", "flux-system", "rollout", "status", `deployment/${d}`, "--timeout=120s"]);
    }
    const uuid = (await ec()).status!.uuid!;
    const releaseName = `edge-cluster-${uuid}`;
    await waitFor(async () => ready(await json(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", releaseName])),
      { timeoutMs: 300_000, intervalMs: 2_000, message: `HelmRelease ${releaseName} Ready` });
    await kubectl(["-n", EDGE_NS, "rollout", "status", `deployment/${releaseName}-edge-sync`, "--timeout=180s"]);
    await kubectl(["-n", "sealed-secrets", "rollout", "status", "deployment/sealed-secrets", "--timeout=180s"]);
    const pods = await kubectl(["get", "pods", "-A"]);
    console.log(pods);
    // The edge components run the site's image, as the manager does: nobody set it for the edge.
    const images = async (ns: string, selector: string) => ((await json(["-n", ns, "get", "pods", "-l", selector])).items as { spec: { containers: { image: string }[] } }[])
      .flatMap((p) => p.spec.containers.map((c) => c.image));
    for (const [ns, selector] of [[CENTRAL_NS, "app.kubernetes.io/name=cluster-manager"], [EDGE_NS, "app.kubernetes.io/part-of=graft"]] as const) {
      const running = await images(ns, selector);
      assert.ok(running.length > 0 && running.every((i) => i === `${SITE_IMAGE.name}:${SITE_IMAGE.tag}`), `${ns} runs the site's image: ${running.join(", ")}`);
    }

    // The EdgeCluster reports the real Node and the real controller's certificate.
    const nodeObj = await json(["get", "node", node.nodeName]);
    const reported = await waitFor(async () => {
      const e = await ec();
      return ready(e) && e.status?.kubesealCertificate?.pem && (e.status.hosts?.length ?? 0) === 1 ? e : undefined;
    }, { timeoutMs: 180_000, intervalMs: 2_000, message: "EdgeCluster Ready with host and certificate" });
    const host = reported.status!.hosts![0]! as { hostname: string; arch: string; k8s_version: string };
    assertReportedRealHost(host, node, nodeObj.status.nodeInfo);
    const activeKey = await json(["-n", "sealed-secrets", "get", "secrets", "-l", "sealedsecrets.bitnami.com/sealed-secrets-key=active"]);
    assert.equal(reported.status!.kubesealCertificate!.pem, Buffer.from(activeKey.items[0].data["tls.crt"], "base64").toString(),
      "the certificate of the controller's active key");

    // The GitOps report (issue 17): the Flux controllers' Pods rolled out by the kubelet, every object Ready, Synced
    // at graft's commit, the Flux version in kubectl get ec.
    const synced = (e: EdgeCluster) => e.status?.conditions?.find((c) => c.type === "Synced");
    const atCommit = await waitFor(async () => {
      const e = await ec();
      return synced(e)?.status === "True" && e.status?.gitops?.fluxVersion ? e : undefined;
    }, { timeoutMs: 180_000, intervalMs: 2_000, message: "Synced=True with the Flux version" });
    assert.equal(atCommit.status!.gitops!.appliedRevision, `main@sha1:${atCommit.status!.commit}`);
    assert.equal(atCommit.status!.gitops!.fluxVersion, "v2.9.5");
    const controllers = atCommit.status!.gitops!.objects.filter((o) => o.kind === "Deployment").map((o) => `${o.name}=${o.ready}`).sort();
    assert.deepEqual(controllers, ["helm-controller=True", "kustomize-controller=True", "source-controller=True"]);
    assert.match(await kubectl(["-n", CENTRAL_NS, "get", "ec", NAME]), /\sTrue\s+v2\.9\.5\s/);
    const firstCommit = atCommit.status!.commit!;

    // A spec.values change reaches the installed Helm release (its Deployment). Nobody here asks Flux to fetch: the
    // edge-sync Pod's head watch does, under the chart's RBAC (patch on the self-link GitRepository only).
    await kubectl(["-n", CENTRAL_NS, "patch", "ec", NAME, "--type=merge", "-p", '{"spec":{"values":{"logLevel":"debug"}}}']);
    await waitFor(async () => (await ec()).status?.observedGeneration === 2, { timeoutMs: 60_000, message: "new generation committed" });
    await waitFor(async () => {
      const d = await json(["-n", EDGE_NS, "get", "deployment", `${releaseName}-edge-sync`]);
      const env = d.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
      return env.find((e) => e.name === "LOG_LEVEL")?.value === "debug";
    }, { timeoutMs: 300_000, intervalMs: 2_000, message: "logLevel debug in the installed release" });
    const moved = await waitFor(async () => {
      const e = await ec();
      return e.status?.commit !== firstCommit && e.status?.gitops?.appliedRevision === `main@sha1:${e.status?.commit}` && synced(e)?.status === "True" ? e : undefined;
    }, { timeoutMs: 180_000, intervalMs: 2_000, message: "the applied revision moved to the values commit, Synced=True" });
    assert.match(synced(moved)!.message, /graft's latest commit/);
    const source = await json(["-n", EDGE_NS, "get", "gitrepositories.source.toolkit.fluxcd.io", "self-link"]);
    const asked = source.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"] as string | undefined;
    assert.match(asked ?? "", /^\d{4}-\d\d-\d\dT[\d:.]+Z$/, "edge-sync asked Flux to fetch (an ISO time; nothing else here sets it)");
    assert.equal(source.status?.lastHandledReconcileAt, asked, "and source-controller handled that request");

    // graft seal of a value → the real Sealed Secrets controller creates the Secret with it.
    const value = `s3cret-${Date.now()}`;
    const sealed = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, ["--import", "tsx", cli, "seal", NAME, `${EDGE_NS}/sealed-by-graft`, "password", "-n", CENTRAL_NS, "--kubeconfig", node.cluster.kubeconfigPath],
        { cwd: root, encoding: "utf8" }, (err, stdout, stderr) => (err ? reject(new Error(`graft seal: ${stderr}`)) : resolve(stdout)));
      child.stdin!.end(value);
    });
    await kubectl(["apply", "-f", "-"], sealed);
    const secret = await waitFor(async () => {
      const r = await node.cluster.kubectl(["-n", EDGE_NS, "get", "secret", "sealed-by-graft", "-o", "json"]);
      return r.code === 0 ? JSON.parse(r.stdout) as { data: Record<string, string> } : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1_000, message: "the controller unsealed the Secret" });
    assert.equal(Buffer.from(secret.data.password ?? "", "base64").toString(), value);

    // A values change the chart's templates refuse (its schema passes them, or the manager would not commit them):
    // helm-controller's error in kubectl describe ec (edge-sync's head watch asks Flux to fetch; the self-link
    // GitRepository's 1-minute poll is the fallback).
    await kubectl(["-n", CENTRAL_NS, "patch", "ec", NAME, "--type=merge", "-p", JSON.stringify({ spec: { values: { sealedSecrets: { namespace: EDGE_NS } } } })]);
    await waitFor(async () => (await ec()).status?.observedGeneration === 3, { timeoutMs: 60_000, message: "the refused values committed" });
    const committedAt = Date.now();
    await waitFor(async () => /is not Ready: \w+: .*sealedSecrets\.namespace "fplus-edge" is the release namespace/.test((await kubectl(["-n", CENTRAL_NS, "describe", "ec", NAME])).replace(/\s+/g, " ")),
      { timeoutMs: 180_000, intervalMs: 1_000, message: "the HelmRelease's error in kubectl describe ec" });
    console.log(`real node: values refused by the chart → error in kubectl describe ec ${((Date.now() - committedAt) / 1000).toFixed(1)} s after the commit (edge-sync's head watch asked Flux to fetch)`);
  });
});
