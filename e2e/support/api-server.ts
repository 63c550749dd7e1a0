// A real API server for one test file: graft's CRDs when asked, the namespace the tests work in, a client on it.
import { Core } from "../../operators/runtime/kube.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from "../harness/control-plane.js";

export interface TestApiServer {
  cp: ControlPlane;
  client: KubeClient;
}

export async function startApiServer(opts: ControlPlaneOptions & { namespace: string; crds?: boolean }): Promise<TestApiServer> {
  const cp = await startControlPlane(opts);
  try {
    if (opts.crds) await cp.installCrds();
    const client = new KubeClient(cp.kubeConfig);
    await client.create(Core.namespaces, { metadata: { name: opts.namespace } });
    return { cp, client };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}
