// Shared set-up for cluster-manager tests: a real API server with the CRDs, and a manager on loopback ports.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startControlPlane, type ControlPlane } from "../../harness/control-plane.js";
import { freePort } from "../../harness/ports.js";
import { silentLogger } from "../../../operators/runtime/logger.js";
import { ClusterManager } from "../../../operators/cluster-manager/cluster-manager.js";
import { defaultConfig, type ClusterManagerConfig } from "../../../operators/cluster-manager/config.js";
import type { ListenerLimits } from "../../../operators/cluster-manager/http-server.js";
import type { KubeConfig } from "@kubernetes/client-node";
import { atFileEnd, tempDirForFile } from "../api-server.js";
import assert from "node:assert/strict";
import { EdgeClusterType, type EdgeCluster } from "../../../operators/api/edgecluster.js";
import { credentialsSecretName, decodeCredentials, type ClusterCredentials, type SecretObject } from "../../../operators/cluster-manager/credentials.js";
import { Core } from "../../../operators/runtime/kube.js";
import type { Condition } from "../../../operators/runtime/conditions.js";
import { eventually } from "../../harness/eventually.js";

const run = promisify(execFile);

export interface ManagerFixture {
  cp: ControlPlane;
  manager: ClusterManager;
  dataDir: string;
  externalUrl: string;
  stop(): Promise<void>;
}

/** `host`: the address the manager listens on and edges reach it at (loopback; a real node's Pods need its bridge). */
export async function startManagerFixture(name: string, config: Partial<ClusterManagerConfig> = {},
  users?: Record<string, string[]>, host = "127.0.0.1", limits?: ListenerLimits): Promise<ManagerFixture> {
  const cp = await startControlPlane({ name, users });
  await cp.installCrds();
  const dataDir = mkdtempSync(join(tmpdir(), "graft-cm-"));
  const port = await freePort();
  const externalUrl = `http://${host}:${port}`;
  const manager = new ClusterManager({
    kubeConfig: cp.kubeConfig,
    config: defaultConfig({ dataDir, externalUrl, organisationPrefix: "acme", ...config }),
    log: silentLogger,
    listen: { host, port, limits },
    concurrency: 4,
  });
  await manager.start();
  return {
    cp, manager, dataDir, externalUrl,
    async stop() {
      await manager.stop();
      await cp.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The manager all tests of the calling file share, with `namespace` created: started now (`await` it at the file's
 * top level), stopped at the file's end.
 */
export async function managerForFile(name: string, namespace: string, config: Partial<ClusterManagerConfig> = {},
  users?: Record<string, string[]>, limits?: ListenerLimits): Promise<ManagerFixture> {
  const f = await startManagerFixture(name, config, users, undefined, limits);
  atFileEnd(() => f.stop());
  const created = await f.cp.kubectl(["create", "namespace", namespace]);
  assert.equal(created.code, 0, created.stderr);
  return f;
}

/** Applies an EdgeCluster, waits until it is Provisioned and returns its UUID and the credentials graft made. */
export async function provisionCluster(f: ManagerFixture, name: string, namespace: string,
  spec: Record<string, unknown> = {}): Promise<{ uuid: string; creds: ClusterCredentials }> {
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, namespace, spec) })).code, 0);
  const waited = await f.cp.kubectl(["wait", "-n", namespace, `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"]);
  assert.equal(waited.code, 0, waited.stderr);
  const uuid = (await f.manager.client.get<EdgeCluster>(EdgeClusterType, name, namespace)).status!.uuid!;
  return { uuid, creds: decodeCredentials(await f.manager.client.get<SecretObject>(Core.secrets, credentialsSecretName(uuid), namespace)) };
}

/** Waits until the EdgeCluster has a condition matching `wanted`; returns the EdgeCluster as then read. */
export async function waitForCondition(f: ManagerFixture, name: string, namespace: string,
  wanted: (c: Condition) => boolean, message: string): Promise<EdgeCluster> {
  return eventually(async () => {
    const ec = await f.manager.client.get<EdgeCluster>(EdgeClusterType, name, namespace);
    return ec.status?.conditions?.some(wanted) && ec;
  }, { message });
}

/** Runs the git CLI as a client with no user or system configuration and no prompts. */
export async function gitClient(args: string[], cwd?: string) {
  const home = mkdtempSync(join(tmpdir(), "graft-git-home-"));
  try {
    return await run("git", args, {
      cwd, env: { PATH: process.env.PATH, HOME: home, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export const edgeClusterYaml = (name: string, namespace: string, spec: Record<string, unknown> = {}) => JSON.stringify({
  apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "EdgeCluster", metadata: { name, namespace }, spec,
});

export function withCredentials(url: string, username: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(username);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export interface Replica {
  id: string;
  manager: ClusterManager;
  dataDir: string;
  url: string;
}

/**
 * One of several cluster-manager replicas electing a leader in `namespace`, each with its own data directory (so
 * who wrote what is visible) inside the calling file's scratch directory, with short lease timings. Top level only.
 */
export function replicasForFile(kubeConfig: () => KubeConfig, namespace: string, config: Partial<ClusterManagerConfig> = {}) {
  const work = tempDirForFile("graft-replicas-");
  return async (id: string): Promise<Replica> => {
    const dataDir = mkdtempSync(join(work, `${id}-`));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const manager = new ClusterManager({
      kubeConfig: kubeConfig(), log: silentLogger, listen: { host: "127.0.0.1", port },
      config: defaultConfig({ dataDir, externalUrl: url, watchNamespace: namespace, ...config }),
      leaderElection: { namespace, identity: id, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
    });
    await manager.start();
    return { id, manager, dataDir, url };
  };
}
