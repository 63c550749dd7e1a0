// graft's KerberosKey CRD takes over one the ACS edge chart installed: a server-side apply over it leaves the names
// ACS declared (and so every kubectl short name and category users rely on) unchanged and claims none of them from
// another manager, on a real API server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";

const CRD_FILE = fileURLToPath(new URL("../../crds/factoryplus.app.amrc.co.uk_kerberos-keys.yaml", import.meta.url));

/** The names and version as ACS's edge-cluster chart declares them (acs-contract §6, §12); schema kept open. */
const acsShape = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "kerberos-keys.factoryplus.app.amrc.co.uk" },
  spec: {
    group: "factoryplus.app.amrc.co.uk",
    names: { kind: "KerberosKey", plural: "kerberos-keys", shortNames: ["krb", "krbs"], categories: ["all"] },
    scope: "Namespaced",
    versions: [{
      name: "v1", served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: { type: "object", required: ["spec"], properties: {
        spec: { type: "object", required: ["type", "principal"], "x-kubernetes-preserve-unknown-fields": true, properties: {
          type: { type: "string" }, principal: { type: "string" }, secret: { type: "string" },
        } },
        status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      } } },
    }],
  },
};

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane({ name: "krb-crd" });
});
after(async () => cp?.stop());

test("graft's KerberosKey CRD declares exactly ACS's names and version", () => {
  const crd = parse(readFileSync(CRD_FILE, "utf8"));
  const { listKind, ...names } = crd.spec.names;
  assert.equal(listKind, "KerberosKeyList", "the API server's default list kind");
  assert.deepEqual(names, acsShape.spec.names);
  assert.deepEqual(crd.spec.versions.map((v: { name: string }) => v.name), ["v1"]);
  assert.equal(crd.spec.scope, "Namespaced");
});

test("server-side apply over ACS's installed CRD: no conflict on names, names unchanged, old objects still served", async () => {
  const installed = await cp.kubectl(["apply", "--server-side", "--field-manager=helm", "-f", "-"], { input: JSON.stringify(acsShape) });
  assert.equal(installed.code, 0, installed.stderr);
  await waitEstablished();
  const key = { apiVersion: "factoryplus.app.amrc.co.uk/v1", kind: "KerberosKey", metadata: { name: "op1flux", namespace: "default" },
    spec: { type: "Password", principal: "op1flux/Edge_Cluster_1@GRAFT.TEST", secret: "flux-secrets/password" } };
  const created = await cp.kubectl(["create", "-f", "-"], { input: JSON.stringify(key) });
  assert.equal(created.code, 0, created.stderr);

  // Without force, whatever conflicts there are (schema, printer columns: graft's are richer) never touch names.
  const plain = await cp.kubectl(["apply", "--server-side", "--field-manager=graft", "-f", CRD_FILE]);
  if (plain.code !== 0) {
    assert.match(plain.stderr, /conflict/i, plain.stderr);
    assert.doesNotMatch(plain.stderr, /\.spec\.names/, "a names field conflicts with ACS's");
  }
  const taken = await cp.kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=graft", "-f", CRD_FILE]);
  assert.equal(taken.code, 0, taken.stderr);
  const crd = await waitEstablished();
  assert.deepEqual(crd.status.acceptedNames, { ...acsShape.spec.names, singular: "kerberoskey", listKind: "KerberosKeyList" });
  for (const name of ["krb", "krbs", "kerberos-keys", "kerberoskey"]) {
    const got = await cp.kubectl(["get", name, "-n", "default", "op1flux", "-o", "name"]);
    assert.equal(got.code, 0, `kubectl get ${name}: ${got.stderr}`);
  }
});

async function waitEstablished(): Promise<{ status: { acceptedNames: unknown } }> {
  const r = await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/kerberos-keys.factoryplus.app.amrc.co.uk", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const crd = JSON.parse(r.stdout);
  assert.ok(crd.status.conditions.some((c: { type: string; status: string }) => c.type === "NamesAccepted" && c.status === "True"), "names accepted");
  return crd;
}
