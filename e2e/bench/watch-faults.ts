// Informers against an API server stand-in that fails every watch (HTTP 500, an ERROR event, or a stream closed at
// once) for a minute: how many watch requests each makes with the default backoff. A hot loop makes thousands.
import { startFailingWatchServer, type WatchFault } from "../harness/failing-watch-server.js";
import { Informer } from "../../operators/runtime/informer.js";
import { Core } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import type { Figure } from "./figures.js";

const FAULTS: WatchFault[] = ["http-500", "error-event", "closed-at-once"];

export async function benchWatchFaults(opts: { seconds?: number; say?: (line: string) => void } = {}): Promise<Figure[]> {
  const seconds = opts.seconds ?? 60;
  opts.say?.(`watch faults: ${FAULTS.length} informers, each against a server failing every watch, for ${seconds} s`);
  const runs = await Promise.all(FAULTS.map(async (fault) => {
    const stub = await startFailingWatchServer(fault);
    const informer = new Informer(new KubeClient(stub.kubeConfig), Core.configMaps, silentLogger, { namespace: "bench" });
    try {
      informer.start();
      await new Promise((r) => setTimeout(r, seconds * 1000));
    } finally {
      await informer.stop();
      await stub.close();
    }
    return { fault, ...stub.counts };
  }));
  return runs.flatMap(({ fault, watches, lists }) => [
    { group: `watch faults (${fault})`, name: `watch requests in ${seconds} s`, value: watches, unit: "", target: { op: "<=", bound: 20 } },
    { group: `watch faults (${fault})`, name: `list requests in ${seconds} s`, value: lists, unit: "" },
  ] satisfies Figure[]);
}
