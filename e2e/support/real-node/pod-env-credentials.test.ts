// The real-node tests' "no credential in a Pod's environment" check finds a credential however it reaches the
// environment: envFrom a Secret or a ConfigMap, a Secret or ConfigMap key, a plain value, in any container or init
// container. (The check it replaces read only the first container's env names: every leaky Pod below but the first
// passed it.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { podEnvCredentialProblems, type EnvSourcePod, type EnvSources } from "./pod-env-credentials.js";

const sources: EnvSources = {
  configMaps: new Map<string, Record<string, string>>([
    ["settings", { MODE: "acs", SERVICE_PASSWORD_FILE: "/etc/graft/acs/password", LISTEN_ADDRESS: ":8080" }],
    ["leaky-settings", { MODE: "acs", SERVICE_PASSWORD: "hunter2-but-longer" }],
    ["pasted", { ACS_LOGIN: "user:s3cret-from-the-secret" }],
  ]),
  secrets: new Map<string, Record<string, string>>([
    ["graft-cluster-manager-acs", { password: "s3cret-from-the-secret" }],
    ["tiny", { flag: "true" }],
  ]),
};

const pod = (name: string, spec: EnvSourcePod["spec"]): EnvSourcePod => ({ metadata: { name }, spec });

test("a Pod that takes its settings from a ConfigMap and its credentials as files passes", () => {
  assert.deepEqual(podEnvCredentialProblems([pod("manager", {
    containers: [{
      name: "manager", envFrom: [{ configMapRef: { name: "settings" } }],
      env: [{ name: "POD_NAMESPACE", valueFrom: {} }, { name: "DATA_DIR", value: "/var/lib/graft" }, { name: "ON", value: "true" }],
    }],
  })], sources), []);
});

test("each way a credential reaches the environment is named", () => {
  assert.deepEqual(podEnvCredentialProblems([
    pod("named", { containers: [{ name: "c", env: [{ name: "SERVICE_PASSWORD", value: "x" }] }] }),
    pod("envfrom-secret", { containers: [{ name: "a" }, { name: "b", envFrom: [{ secretRef: { name: "graft-cluster-manager-acs" } }] }] }),
    pod("envfrom-configmap", { containers: [{ name: "c", envFrom: [{ configMapRef: { name: "leaky-settings" } }] }] }),
    pod("prefixed", { containers: [{ name: "c", envFrom: [{ prefix: "ACS_", configMapRef: { name: "pasted" } }] }] }),
    pod("secret-key", { containers: [{ name: "c" }], initContainers: [{ name: "init", env: [{ name: "LOGIN", valueFrom: { secretKeyRef: { name: "graft-cluster-manager-acs", key: "password" } } }] }] }),
    pod("configmap-key", { containers: [{ name: "c", env: [{ name: "LOGIN", valueFrom: { configMapKeyRef: { name: "pasted", key: "ACS_LOGIN" } } }] }] }),
    pod("missing", { containers: [{ name: "c", envFrom: [{ configMapRef: { name: "gone" } }] }] }),
  ], sources), [
    'Pod "named" container "c": SERVICE_PASSWORD is named as a credential',
    'Pod "envfrom-secret" container "b": envFrom Secret "graft-cluster-manager-acs"',
    'Pod "envfrom-configmap" container "c": SERVICE_PASSWORD (envFrom ConfigMap "leaky-settings") is named as a credential',
    'Pod "prefixed" container "c": ACS_ACS_LOGIN (envFrom ConfigMap "pasted") holds key "password" of Secret "graft-cluster-manager-acs"',
    'Pod "secret-key" container "init": LOGIN from key "password" of Secret "graft-cluster-manager-acs"',
    'Pod "configmap-key" container "c": LOGIN (key "ACS_LOGIN" of ConfigMap "pasted") holds key "password" of Secret "graft-cluster-manager-acs"',
    'Pod "missing" container "c": envFrom ConfigMap "gone" not found, so not checked',
  ]);
});
