// A GET to the API server that returns the body as text: the service proxy answers with a PEM file, which the
// runtime's JSON client cannot hand back.
import { request as httpsRequest, type RequestOptions } from "node:https";
import { request as httpRequest } from "node:http";
import type * as k8s from "@kubernetes/client-node";
import { ApiError } from "../runtime/rest.js";

export async function kubeGetText(kc: k8s.KubeConfig, path: string, opts: { accept?: string; timeoutMs?: number } = {}): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(cluster.server.replace(/\/$/, "") + path);
  const reqOpts: RequestOptions = { method: "GET", headers: { accept: opts.accept ?? "*/*" } };
  await kc.applyToHTTPSOptions(reqOpts);
  const send = url.protocol === "http:" ? httpRequest : httpsRequest;
  return new Promise<string>((resolve, reject) => {
    const req = send(url, reqOpts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(text);
        let st: { reason?: string; message?: string } = {};
        try { st = JSON.parse(text) as typeof st; } catch { st = { message: text.trim().slice(0, 200) || undefined }; }
        reject(new ApiError(status, st.reason ?? "Unknown", st.message ?? `GET ${path}: HTTP ${status}`));
      });
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}
