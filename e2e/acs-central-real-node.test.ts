// graft's central install in ACS mode as an ACS site deploys it, on a real node: config/acs applied with kubectl
// (e2e/support/real-node/acs-site.ts) with the built image, the manager's ACS login a keytab in a mounted Secret (a
// Negotiate login, as ACS's own services log in; e2e/kerberos-real-node.test.ts installs it with a password), under
// exactly the RBAC config/acs ships, with the image under the site's own reference (an overlay's `images:`). The ACS
// services are the stand-in (with the Cluster Manager role's grants from its dumps, nothing more, and a real
// HTTP/<host> keytab) and a real MIT KDC, both on the host at the node's bridge address. Shown: two replicas Ready, one
// leader, no credential in any container's environment (env, envFrom, Secret keys: central-pods.ts podEnvCredentials),
// graft advertised as the Clusters service in the Directory; a cluster made as the admin UI makes it becomes a
// Provisioned EdgeCluster with its setup status ready; the Clusters API, reached where the Directory says, accepts a
// token at every replica (and Negotiate, verified with the HTTP/<manager IP> keytab the Pods mount from the same
// Secret) and gives a bootstrap URL whose script the Pods serve once (then 410), its enrolment Pod on
// the site's image; an entry that cannot be mirrored is a Warning Event; deleting the leader's Pod hands the Lease
// over, and the new leader mirrors the next cluster and tears down a deleted one. (The edge side of the bootstrap —
// enrolment Pod, Flux, the chart — is e2e/kerberos-real-node.test.ts.) Root on Linux only.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigDbClient } from "../operators/acs/configdb.js";
import { negotiateLoginFor, type KeytabCredentials } from "../operators/acs/negotiate.js";
import { AcsConnection } from "../operators/acs/discovery.js";
import { App, Class, Perm, Service } from "../operators/api/constants.js";
import { createClusterAsAdminUi } from "./acs-standin/admin-ui.js";
import { startAcsStandin, type AcsStandin } from "./acs-standin/standin.js";
import { startKdc, type Kdc } from "./harness/kdc.js";
import { graftImage, realNodeSkipReason, startRealNode, type RealNode } from "./harness/real-node.js";
import { addClusterManagerAccount, CHART_VALUES, installClustersService } from "./support/cluster-manager/acs-world.js";
import { ACS_EXTERNAL_URL, installAcsCentral } from "./support/real-node/acs-site.js";
import { MANAGER_IP } from "./support/real-node/embedded-site.js";
import {
  CENTRAL_NS, deleteLeaderAndAwaitHandover, describeManager, podEnvCredentials, readyManagerPods, twoReplicasOneLeader,
} from "./support/real-node/central-pods.js";
import { diagnosedWait, kubectlOn } from "./support/real-node/edge-node.js";

const skip = realNodeSkipReason();
const NULL_UUID = "00000000-0000-0000-0000-000000000000";
/** The image as the site's registry holds it: the overlay's `images:` moves the manager and the enrolment Pod to it. */
const SITE_IMAGE = { name: "registry.graft.test/acs/graft", tag: "0.1.0-site" };

interface EdgeClusterJson {
  metadata: { name: string; finalizers?: string[] };
  spec: { name: string; namespace: string; chart?: string; uuid?: string };
  status?: { uuid?: string; conditions?: { type: string; status: string }[] };
}

describe("ACS mode's central install in Pods on a real node", { skip }, () => {
  let node: RealNode;
  let kdc: Kdc;
  let standin: AcsStandin;
  let work: string;
  let cdb: ConfigDbClient;
  let chart: string;
  let upn: string;
  let adminKeytab: KeytabCredentials;
  let first: { uuid: string; name: string; ec: EdgeClusterJson } | undefined;
  const { kubectl, json } = kubectlOn(() => node);
  const waitFor = diagnosedWait(() => describeManager(node), { intervalMs: 1000 });
  const admin = () => `Basic ${Buffer.from(`${standin.adminUser.username}:${standin.adminUser.password}`).toString("base64")}`;
  const setupStatus = (uuid: string) => standin.configdb.get(App.EdgeClusterSetupStatus, uuid)?.value as { ready?: boolean } | undefined;
  const mirrorOf = async (uuid: string) => ((await json(["-n", CENTRAL_NS, "get", "edgeclusters"])).items as EdgeClusterJson[])
    .find((ec) => ec.spec.uuid === uuid || ec.status?.uuid === uuid);
  const provisioned = (ec: EdgeClusterJson | undefined) => ec?.status?.conditions?.some((c) => c.type === "Provisioned" && c.status === "True") ?? false;

  /** An admin-UI cluster → its Provisioned mirror and a ready setup status (made by whichever replica leads). */
  async function mirroredAndSetUp(typed: string) {
    const made = await createClusterAsAdminUi(cdb, { typed, chart });
    const ec = await waitFor(async () => {
      const got = await mirrorOf(made.uuid);
      return provisioned(got) && got;
    }, { timeoutMs: 180_000, message: `the EdgeCluster mirrored from "${typed}" Provisioned` });
    await waitFor(() => setupStatus(made.uuid)?.ready === true, { timeoutMs: 60_000, message: `the setup status of "${typed}" ready` });
    return { ...made, ec };
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "graft-acs-central-"));
    const image = graftImage();
    node = await startRealNode({ images: [image.tarball], log: (m) => console.log(`real node: ${m}`) });
    await node.tagImage(image.reference, `${SITE_IMAGE.name}:${SITE_IMAGE.tag}`);
    kdc = await startKdc({ address: node.bridgeAddress });
    standin = await startAcsStandin({ kdc, host: node.bridgeAddress });
    // ACS's installer: the Clusters service's config, groups and repositories, and its account with a keytab (ktadd
    // gives the principal a new random key: no password logs in as it any more, only the keytab).
    chart = installClustersService(standin, CHART_VALUES).chart;
    const manager = await addClusterManagerAccount(standin, { kdc });
    upn = manager.upn;
    const keytabFile = join(work, "sv1clustermanager.keytab");
    assert.match(await kdc.kadminLocal(`ktadd -k ${keytabFile} ${upn}`), /added to keytab/);
    // The administrator using the admin UI may manage every cluster, as ACS's Administrator group may.
    standin.auth.addGrant({ principal: standin.adminUser.principal, permission: Perm.ManageClusters, target: NULL_UUID, plural: false });
    cdb = new ConfigDbClient(new AcsConnection({
      credentials: { username: standin.adminUser.username, password: standin.adminUser.password },
      urls: { configdb: standin.urls.configdb, auth: standin.urls.auth, git: standin.urls.git },
    }).service("configdb"));
    // The Clusters API's own service key (HTTP/<the Service's IP>, the host of EXTERNAL_URL) and a keytab for the
    // administrator's Kerberos name, to log in there with Negotiate.
    const serverKeytab = join(work, "http.keytab");
    await kdc.kadminLocal(`addprinc -randkey HTTP/${MANAGER_IP}@${kdc.realm}`);
    assert.match(await kdc.kadminLocal(`ktadd -k ${serverKeytab} HTTP/${MANAGER_IP}@${kdc.realm}`), /added to keytab/);
    adminKeytab = { principal: standin.adminUser.upn, keytabFile: join(work, "admin.keytab"), env: kdc.env };
    await kdc.kadminLocal(`addprinc -randkey ${adminKeytab.principal}`);
    assert.match(await kdc.kadminLocal(`ktadd -k ${adminKeytab.keytabFile} ${adminKeytab.principal}`), /added to keytab/);
    const account = { username: manager.username, keytabFile, krb5Conf: kdc.env.KRB5_CONFIG! };
    await installAcsCentral(node, work, { directoryUrl: standin.urls.directory, account, kdc, organisationPrefix: "acme", image: SITE_IMAGE, serverKeytab });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([standin?.stop(), kdc?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("two replicas Ready under config/acs's RBAC, one leader, logged in with the mounted keytab; advertised in the Directory", { timeout: 300_000 }, async () => {
    const { pods } = await twoReplicasOneLeader(node);
    for (const p of pods) assert.equal(p.spec.containers[0]?.image, `${SITE_IMAGE.name}:${SITE_IMAGE.tag}`, "the site's image");
    assert.deepEqual(await podEnvCredentials(node), [], "no credential in any container's environment (env, envFrom, Secret keys)");
    const settings = await kubectl(["-n", CENTRAL_NS, "get", "configmaps", "-o", "yaml"]);
    assert.match(settings, /SERVICE_KEYTAB_FILE: \/etc\/graft\/acs\/keytab/);
    // The stand-in verified the manager's Negotiate tickets (its key is only in the keytab).
    assert.ok(standin.negotiatePrincipal, "the stand-in accepts Negotiate");
    assert.ok(standin.requests.some((r) => r.service === "configdb" && r.path === "/token" && r.upn === upn && r.status === 200),
      `the manager logged in to the ConfigDB as ${upn} (refusals: ${standin.negotiateRefusals.join("; ")})`);
    const listed = await fetch(`${standin.urls.directory}/v1/service/${Service.Clusters}`, { headers: { authorization: admin() } });
    assert.deepEqual(((await listed.json()) as { url: string }[]).map((d) => d.url), [ACS_EXTERNAL_URL]);
  });

  test("an entry written as the admin UI writes it → a Provisioned EdgeCluster, setup status ready; an unmirrorable one → a Warning Event", { timeout: 300_000 }, async () => {
    first = await mirroredAndSetUp("Edge Cluster 1");
    assert.equal(first.name, "Edge_Cluster_1");
    assert.deepEqual(standin.configdb.get(App.EdgeClusterConfiguration, first.uuid)?.value, { name: "Edge_Cluster_1", namespace: "fplus-edge", chart });
    assert.equal(first.ec.metadata.name, "edge-cluster-1");
    assert.deepEqual([first.ec.spec.name, first.ec.spec.namespace, first.ec.spec.chart], ["Edge_Cluster_1", "fplus-edge", chart]);

    // An administrator writes a name no EdgeCluster can carry: an Event says so where a person looks.
    const { uuid: bad } = await cdb.createObject(Class.EdgeCluster);
    await cdb.putEntry(App.EdgeClusterConfiguration, bad, { name: "line.7", namespace: "fplus-edge" });
    const event = await waitFor(async () => ((await json(["get", "events.events.k8s.io", "-A"])).items as { reason: string; note: string }[])
      .find((e) => e.reason === "EntryNotMirrored" && e.note.includes(bad)), { timeoutMs: 60_000, message: "the EntryNotMirrored Event" });
    assert.match(event.note, /fix the entry in the ConfigDB/);
    await cdb.deleteEntry(App.EdgeClusterConfiguration, bad);
  });

  test("the Clusters API where the Directory says: a token good at every replica, bootstrap-url → a script served once, then a refusal", { timeout: 300_000 }, async () => {
    assert.ok(first, "the admin-UI cluster was set up");
    const listed = await fetch(`${standin.urls.directory}/v1/service/${Service.Clusters}`, { headers: { authorization: admin() } });
    const clusters = ((await listed.json()) as { url: string }[])[0]!.url;
    const login = await fetch(`${clusters}/token`, { method: "POST", headers: { authorization: admin() } });
    assert.equal(login.status, 200);
    const bearer = { authorization: `Bearer ${((await login.json()) as { token: string }).token}` };
    const pods = await readyManagerPods(node);
    for (const pod of pods) {
      const status = await fetch(`http://${pod.status.podIP}:8080/v1/cluster/${first.uuid}/status`, { headers: bearer });
      assert.equal(status.status, 200, `the token at ${pod.metadata.name}`);
      assert.equal(((await status.json()) as { ready?: boolean }).ready, true);
      // Negotiate at this replica: a ticket for HTTP/<manager IP>, verified with the mounted keytab, and its reply.
      const exchange = await negotiateLoginFor(adminKeytab).start("clusters", MANAGER_IP);
      const negotiated = await fetch(`http://${pod.status.podIP}:8080/v1/cluster/${first.uuid}/status`, { headers: { authorization: exchange.authorization } });
      assert.equal(negotiated.status, 200, `Negotiate at ${pod.metadata.name}: ${await negotiated.clone().text()}`);
      await exchange.complete(negotiated.headers.get("www-authenticate"));
    }

    const answer = await fetch(`${clusters}/v1/cluster/${first.uuid}/bootstrap-url`, { method: "POST", headers: bearer });
    assert.equal(answer.status, 200, await answer.clone().text());
    const url = (await answer.json()) as string;
    assert.ok(url.startsWith(`${ACS_EXTERNAL_URL}/v1/bootstrap/`), url);
    // The replica serving the link learns the token from the Secret (its watch, or a list when it has not yet).
    const script = await waitFor(async () => {
      const r = await fetch(url);
      return r.status !== 404 && r;
    }, { timeoutMs: 60_000, message: "the bootstrap URL served" });
    assert.equal(script.status, 200);
    const text = await script.text();
    assert.match(text, /graft_mode='kerberos'/);
    assert.ok(text.includes(kdc.realm), "the script names the realm");
    assert.ok(text.includes(`image: ${SITE_IMAGE.name}:${SITE_IMAGE.tag}\n`), "its enrolment Pod runs the site's image, as the manager does");
    for (const pod of pods) {
      const again = await fetch(url.replace(ACS_EXTERNAL_URL, `http://${pod.status.podIP}:8080`));
      // The `.sh` link answers a spent token with a script that says so and exits 1 (what `curl <url> | sh -` runs).
      assert.match(await again.text(), /this bootstrap link was already used at \S+ and works only once[^]*exit 1/, `the second fetch, at ${pod.metadata.name}`);
    }
  });

  test("deleting the leader's Pod hands the Lease over; the new leader mirrors the next cluster and tears down a deleted one", { timeout: 600_000 }, async () => {
    assert.ok(first, "the admin-UI cluster was set up");
    await deleteLeaderAndAwaitHandover(node);
    const second = await mirroredAndSetUp("Edge Cluster 2");
    assert.equal(second.ec.metadata.name, "edge-cluster-2");

    await cdb.deleteEntry(App.EdgeClusterConfiguration, first.uuid);
    await waitFor(async () => (await mirrorOf(first!.uuid)) === undefined, { timeoutMs: 180_000, message: "edge-cluster-1 deleted, its finalizer done" });
    assert.equal(setupStatus(first.uuid), undefined, "its setup status went last");
  });
});
