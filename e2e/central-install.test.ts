// graft's central install as a site runs it: the image built from the Dockerfile (e2e/assets/build-image.sh), put
// under the site's own registry reference and set with a kustomize overlay over config/default, applied with kubectl
// to a real node → two cluster-manager Pods Running and Ready under exactly the RBAC shipped, one holding the Lease;
// the bootstrap, Git, status and seal endpoints answer from each Pod; no credential is in a Pod's environment
// (central-pods.ts podEnvCredentials); deleting the leader Pod hands the Lease over.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { App, BOOTSTRAP_REQUEST_ANNOTATION } from "../operators/api/constants.js";
import { bootstrapCommandSecretName } from "../operators/cluster-manager/bootstrap-tokens.js";
import { credentialsSecretName } from "../operators/cluster-manager/credentials.js";
import { eventually } from "./harness/eventually.js";
import { graftImage, realNodeSkipReason, startRealNode, type RealNode } from "./harness/real-node.js";
import { edgeClusterYaml, gitClient, withCredentials } from "./support/cluster-manager/fixtures.js";
import { kubectlFor } from "./support/kubectl.js";
import {
  applySiteOverlay, deleteLeaderAndAwaitHandover, podEnvCredentials, provideRepoVolume, readyManagerPods, twoReplicasOneLeader, type ManagerPod,
} from "./support/real-node/central-pods.js";

const skip = realNodeSkipReason();
const NS = "graft-system";
/** The image as the site's own registry holds it (what `kustomize edit set image` would point at). */
const SITE_IMAGE = { name: "registry.graft.test/platform/graft", tag: "0.1.0-site" };
const SERVICE_URL = `http://graft-cluster-manager.${NS}.svc:8080`;

describe("central install in Pods on a real node", { skip }, () => {
  let node: RealNode;
  let work: string;
  const { kubectl, must } = kubectlFor(() => node.cluster);
  const json = async <T>(args: string[]) => JSON.parse(await must([...args, "-o", "json"])) as T;
  /** A URL the manager handed out (EXTERNAL_URL is the in-cluster Service), aimed at one Pod from the host. */
  const atPod = (url: string, pod: ManagerPod) => url.replace(SERVICE_URL, `http://${pod.status.podIP}:8080`);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "graft-central-"));
    const image = graftImage();
    node = await startRealNode({ images: [image.tarball], log: (m) => console.log(`real node: ${m}`) });
    // The site pushes the image it built to its registry: here, the same image under the site's reference.
    await node.tagImage(image.reference, `${SITE_IMAGE.name}:${SITE_IMAGE.tag}`);
    await provideRepoVolume(node);
    // The overlay a site writes over config/default: its image and its URL, nothing else.
    await applySiteOverlay(node, work, { base: "config/default", image: SITE_IMAGE, settings: { EXTERNAL_URL: SERVICE_URL } });
  });

  after(async () => {
    await node?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("two replicas from the built image are Running and Ready; exactly one holds the Lease", async () => {
    const { pods } = await twoReplicasOneLeader(node);
    for (const p of pods) {
      assert.equal(p.spec.containers[0]?.image, `${SITE_IMAGE.name}:${SITE_IMAGE.tag}`, "the overlay's image");
      assert.equal(p.status.containerStatuses?.[0]?.ready, true);
    }
  });

  test("bootstrap, Git, status and seal endpoints answer from each Pod under the shipped RBAC", async () => {
    await must(["apply", "-f", "-"], edgeClusterYaml("site-a", NS));
    await must(["wait", "-n", NS, "ec/site-a", "--for=condition=Provisioned", "--timeout=120s"]);
    const ec = await json<{ status: { uuid: string; repository: string } }>(["get", "ec", "-n", NS, "site-a"]);
    const uuid = ec.status.uuid;
    const creds = (await json<{ data: Record<string, string> }>(["get", "secret", "-n", NS, credentialsSecretName(uuid)])).data;
    const field = (k: string) => Buffer.from(creds[k]!, "base64").toString();
    const pods = await readyManagerPods(node);
    assert.equal(pods.length, 2);

    // Status endpoint: the edge's report (hosts and the Sealed Secrets certificate) reaches the EdgeCluster.
    const certDir = join(work, "cert");
    mkdirSync(certDir);
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(certDir, "k.pem"), "-out",
      join(certDir, "c.pem"), "-days", "30", "-subj", "/CN=sealed-secret"], { stdio: "ignore" });
    const pem = readFileSync(join(certDir, "c.pem"), "utf8");
    const statusUrl = (pod: ManagerPod) => `http://${pod.status.podIP}:8080/v2/app/${App.EdgeClusterStatus}/object/${uuid}`;
    const auth = { authorization: `Bearer ${field("sync-token")}` };
    const report = await fetch(statusUrl(pods[0]!), {
      method: "PATCH", headers: { ...auth, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ kubeseal_cert: pem, hosts: [{ hostname: "edge-1", control_plane: true, k8s_version: "v1.36.3", arch: "amd64", os_version: "Debian 12", ready: true }] }),
    });
    assert.equal(report.status, 204, await report.text());
    for (const pod of pods) {
      const r = await fetch(statusUrl(pod), { headers: auth });
      assert.equal(r.status, 200, `status GET from ${pod.metadata.name}`);
      assert.equal(((await r.json()) as { kubeseal_cert: string }).kubeseal_cert, pem);
    }
    await eventually(async () => (await json<{ status: { kubesealCertificate?: { pem: string } } }>(["get", "ec", "-n", NS, "site-a"]))
      .status.kubesealCertificate?.pem === pem, { timeoutMs: 30_000, message: "certificate in the EdgeCluster status" });

    // Git smart HTTP: each Pod serves the cluster's repository to the cluster's credentials.
    for (const pod of pods) {
      const url = withCredentials(atPod(ec.status.repository, pod), field("git-username"), field("git-password"));
      const { stdout } = await gitClient(["ls-remote", url]);
      assert.match(stdout, /\trefs\/heads\/main\n/, `ls-remote from ${pod.metadata.name}`);
    }

    // Bootstrap endpoint: the one-time script comes from one Pod, and the other knows it was used.
    const request = `central-${Date.now()}`;
    await must(["annotate", "--overwrite", "-n", NS, "ec/site-a", `${BOOTSTRAP_REQUEST_ANNOTATION}=${request}`]);
    const command = await eventually(async () => {
      const s = await kubectl(["get", "secret", "-n", NS, bootstrapCommandSecretName("site-a"), "-o", "json"]);
      if (s.code !== 0) return undefined;
      const d = (JSON.parse(s.stdout) as { data: Record<string, string> }).data;
      const got = (k: string) => Buffer.from(d[k] ?? "", "base64").toString();
      return got("request") === request ? got("command") : undefined;
    }, { timeoutMs: 60_000, message: "the bootstrap command Secret" });
    // What `curl … | sh -` fetches (<link>.sh), then the plain link, which answers a refusal with its status.
    const scriptUrl = /'([^']+)'/.exec(command)![1]!;
    const script = await fetch(atPod(scriptUrl, pods[0]!));
    assert.equal(script.status, 200);
    assert.match(await script.text(), /^#!\/bin\/sh/);
    const again = await fetch(atPod(scriptUrl.replace(/\.sh$/, ""), pods[1]!));
    assert.equal(again.status, 410, "the link worked once, whichever Pod is asked");
    assert.match(await again.text(), /already used/);

    // Seal endpoint: TokenReview + SubjectAccessReview under the shipped RBAC; a caller without the right gets 403.
    await must(["create", "serviceaccount", "-n", NS, "sealer"]);
    await must(["create", "serviceaccount", "-n", NS, "bystander"]);
    await must(["create", "role", "-n", NS, "edgecluster-sealer", "--verb=update", "--resource=edgeclusters.factoryplus.app.amrc.co.uk/secrets", "--resource-name=site-a"]);
    await must(["create", "rolebinding", "-n", NS, "edgecluster-sealer", "--role=edgecluster-sealer", `--serviceaccount=${NS}:sealer`]);
    const token = async (sa: string) => (await must(["create", "token", "-n", NS, sa])).trim();
    const [sealer, bystander] = [await token("sealer"), await token("bystander")];
    for (const [i, pod] of pods.entries()) {
      const sealUrl = `http://${pod.status.podIP}:8080/v1/cluster/${uuid}/secret/app/db/password-${i}`;
      const denied = await fetch(sealUrl, { method: "PUT", headers: { authorization: `Bearer ${bystander}` }, body: "s3cret" });
      assert.equal(denied.status, 403, await denied.text());
      const sealed = await fetch(sealUrl, { method: "PUT", headers: { authorization: `Bearer ${sealer}` }, body: "s3cret" });
      const body = await sealed.text();
      assert.equal(sealed.status, 200, `seal from ${pod.metadata.name}: ${body}`);
      assert.match(body, /kind: SealedSecret/);
      assert.doesNotMatch(body, /s3cret/);
    }
  });

  test("no credential in any container's environment (env, envFrom, Secret keys), with the cluster's Secrets beside them", async () => {
    assert.deepEqual(await podEnvCredentials(node), []);
  });

  test("deleting the leader Pod hands the Lease to another replica", async () => {
    await deleteLeaderAndAwaitHandover(node);
  });
});
