// A real API server for one test file: graft's CRDs when asked, the namespace the tests work in, a client on it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { Core } from "../../operators/runtime/kube.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from "../harness/control-plane.js";

export interface TestApiServer {
  cp: ControlPlane;
  client: KubeClient;
}

export type TestApiServerOptions = ControlPlaneOptions & { namespace?: string; crds?: boolean };

export async function startApiServer(opts: TestApiServerOptions): Promise<TestApiServer> {
  const cp = await startControlPlane(opts);
  try {
    if (opts.crds) await cp.installCrds();
    const client = new KubeClient(cp.kubeConfig);
    if (opts.namespace) await client.create(Core.namespaces, { metadata: { name: opts.namespace } });
    return { cp, client };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

/**
 * The API server all tests of the calling file share, started now (`await` it at the file's top level), stopped at
 * the file's end (atFileEnd). Top-level await rather than a `before` hook: node:test runs root-level `before` hooks
 * as they are declared, without waiting for an earlier one, so a later hook could not rely on this one.
 */
export async function apiServerForFile(opts: TestApiServerOptions): Promise<TestApiServer> {
  const server = await startApiServer(opts);
  atFileEnd(() => server.cp.stop());
  return server;
}

/** A scratch directory for the calling file's tests, removed at the file's end. */
export function tempDirForFile(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  atFileEnd(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const teardown: Array<() => unknown> = [];

/**
 * Runs `stop` after the file's last test, in reverse order of registration, so what started last (a manager using
 * the API server and the scratch directory) stops first. Each test file runs in its own process: one list per file.
 * The first call registers the file's `after` hook, so it must come from the file's top level (the helpers here do);
 * later calls may come from hooks.
 */
export function atFileEnd(stop: () => unknown): void {
  if (teardown.length === 0) after(async () => { while (teardown.length > 0) await teardown.pop()!(); });
  teardown.push(stop);
}
