// What every test of the edge on the real node starts with: the node with graft's image, Flux's controllers and the
// Sealed Secrets controller imported, and waits whose time-out says what the cluster looked like.
import assert from "node:assert/strict";
import { arch } from "node:os";
import { eventually, type EventuallyOptions, type Truthy } from "../../harness/eventually.js";
import { graftImage, imageTarball, startRealNode, type RealNode } from "../../harness/real-node.js";
import { FLUX_IMAGES, SEALED_SECRETS_IMAGE } from "./embedded-site.js";

/** The image tarballs an edge site needs: graft, the three Flux controllers, the Sealed Secrets controller. */
export function edgeImageTarballs(): string[] {
  return [graftImage().tarball, ...FLUX_IMAGES.map((r) => imageTarball(r)), imageTarball(SEALED_SECRETS_IMAGE)];
}

export function startEdgeNode(log: (line: string) => void = (m) => console.log(`real node: ${m}`)): Promise<RealNode> {
  return startRealNode({ images: edgeImageTarballs(), log });
}

/** eventually(), and when it times out the error carries `diagnose()`'s account of the cluster. */
export function diagnosedWait(diagnose: () => Promise<string>, defaults: { intervalMs?: number } = {}) {
  return async <T>(fn: () => T | Promise<T>, opts: EventuallyOptions): Promise<Truthy<T>> => {
    try {
      return await eventually(fn, { ...defaults, ...opts });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnose()}`);
    }
  };
}

/** kubectl on the node's cluster that fails the test on a non-zero exit, and its `-o json` form parsed. */
export function kubectlOn(node: () => RealNode) {
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await node().cluster.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl's JSON, read field by field by the tests
  const json = async (args: string[]): Promise<any> => JSON.parse(await kubectl([...args, "-o", "json"]));
  return { kubectl, json };
}

/** The host edge-sync reported is the real Node: its name, architecture and kubelet version. */
export function assertReportedRealHost(host: { hostname: string; arch: string; k8s_version: string }, node: RealNode,
  nodeInfo: { architecture: string; kubeletVersion: string }): void {
  assert.equal(host.hostname, node.nodeName);
  assert.equal(host.arch, nodeInfo.architecture);
  assert.equal(host.arch, { x64: "amd64", arm64: "arm64" }[arch() as string] ?? arch());
  assert.equal(host.k8s_version, nodeInfo.kubeletVersion);
  assert.match(host.k8s_version, /^v1\.36\.\d+$/);
}
