// The shared `helm-charts` repository every edge cluster's Flux reads: the edge-cluster chart under `edge-cluster/`
// (the HelmRelease's chart path) and Flux's own manifests under `flux-system/` (the flux-system Kustomization).
// Only the leader writes it (a Manager leader task), so replicas sharing the data directory never race on it.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { backoffDelay, sleep } from "../runtime/backoff.js";
import type { RepoStore } from "./git/repo-store.js";

export const HELM_CHARTS_REPO = "helm-charts";
/** The one chart the shared repository holds (its directory there, the HelmRelease's chart path): embedded spec.chart. */
export const EDGE_CHART = "edge-cluster";
export const DEFAULT_CHART_DIR = fileURLToPath(new URL("../../config/edge-cluster", import.meta.url));

function filesUnder(dir: string, prefix: string, out: Map<string, Buffer>): Map<string, Buffer> {
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(`${prefix}/${relative(dir, p).split("\\").join("/")}`, readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Commits the chart and the Flux manifests to the shared repository (no commit when nothing changed). */
export async function publishHelmCharts(repos: RepoStore, chartDir: string, fluxInstallPath: string) {
  const files = filesUnder(chartDir, EDGE_CHART, new Map());
  files.set("flux-system/gotk-components.yaml", readFileSync(fluxInstallPath));
  return repos.syncSharedFiles(HELM_CHARTS_REPO, files, "Publish the edge-cluster chart and Flux manifests");
}

/** A leader task: publishes, retrying with capped backoff until it succeeds or leadership ends. */
export function publishHelmChartsTask(repos: RepoStore, chartDir: string, fluxInstallPath: string, log: Logger) {
  return async (signal: AbortSignal): Promise<void> => {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const published = await publishHelmCharts(repos, chartDir, fluxInstallPath);
        if (published.changed) log.info({ commit: published.commit }, "published the helm-charts repository");
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, { minMs: 1000, maxMs: 60_000, jitter: 0.2 });
        log.error({ err: (err as Error).message, retryInMs: delay }, "could not publish the helm-charts repository");
        await sleep(delay, signal);
      }
    }
  };
}
