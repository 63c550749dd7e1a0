import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { startControlPlane, type ControlPlane } from "./control-plane.js";
import { eventually } from "./eventually.js";
import { fluxCrdsManifest, fluxInstallManifest, installFluxCrds, startFlux, type FluxControllers } from "./flux.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } & Record<string, unknown>;
}

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

// A smart-HTTP Git server for the test: `git http-backend` as a CGI behind node:http, demanding HTTP Basic.
interface GitServer {
  url: string;
  /** Usernames of the requests refused for bad credentials, in order. */
  rejected: string[];
  stop(): Promise<void>;
}

async function startGitServer(projectRoot: string, username: string, password: string): Promise<GitServer> {
  const rejected: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
    const [user, ...rest] = Buffer.from(encoded ?? "", "base64").toString().split(":");
    if (scheme !== "Basic" || user !== username || rest.join(":") !== password) {
      if (scheme === "Basic") rejected.push(user ?? "");
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: user,
        REMOTE_ADDR: req.socket.remoteAddress ?? "",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersSent = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split("\r\n")) {
        const i = line.indexOf(":");
        const [name, value] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      headersSent = true;
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => {
      if (!headersSent) res.writeHead(500).end("git http-backend failed");
      else res.end();
    });
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("git server has no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    rejected,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...childProcessEnv(), GIT_AUTHOR_NAME: "test", GIT_AUTHOR_EMAIL: "test@example.invalid", GIT_COMMITTER_NAME: "test", GIT_COMMITTER_EMAIL: "test@example.invalid" },
  }).trim();
}

/** A bare repository `<root>/<name>.git` whose main branch holds the given files; returns the commit SHA. */
function makeRepo(root: string, name: string, files: Record<string, string>): string {
  const work = join(root, `${name}-work`);
  git(root, ["init", "--quiet", "--initial-branch=main", work]);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(work, file), content);
  git(work, ["add", "."]);
  git(work, ["commit", "--quiet", "-m", "test content"]);
  git(root, ["clone", "--quiet", "--bare", work, join(root, `${name}.git`)]);
  rmSync(work, { recursive: true, force: true });
  return git(join(root, `${name}.git`), ["rev-parse", "main"]);
}

async function getObject(cp: ControlPlane, resource: string, namespace: string, name: string): Promise<K8sObject | undefined> {
  const r = await cp.kubectl(["get", resource, name, "-n", namespace, "-o", "json"]);
  return r.code === 0 ? (JSON.parse(r.stdout) as K8sObject) : undefined;
}

function condition(obj: K8sObject | undefined, type: string) {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

async function apply(cp: ControlPlane, manifest: string): Promise<void> {
  const r = await cp.kubectl(["apply", "-f", "-"], { input: manifest });
  assert.equal(r.code, 0, `kubectl apply failed: ${r.stderr}`);
}

describe("flux config files", () => {
  it("pin images to the versions in VERSIONS and keep crds.yaml equal to the CRDs of install.yaml", () => {
    const versions = Object.fromEntries(
      readFileSync(fileURLToPath(new URL("../../config/flux/VERSIONS", import.meta.url)), "utf8")
        .split("\n")
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => l.split("=") as [string, string]),
    );
    const install = readObjects(fluxInstallManifest);
    const images = install
      .filter((o) => o.kind === "Deployment")
      .map((o) => (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]?.image)
      .sort();
    assert.deepEqual(images, [
      `ghcr.io/fluxcd/helm-controller:${versions.HELM_CONTROLLER_VERSION}`,
      `ghcr.io/fluxcd/kustomize-controller:${versions.KUSTOMIZE_CONTROLLER_VERSION}`,
      `ghcr.io/fluxcd/source-controller:${versions.SOURCE_CONTROLLER_VERSION}`,
    ]);
    assert.deepEqual(readObjects(fluxCrdsManifest), install.filter((o) => o.kind === "CustomResourceDefinition"));
    assert.ok(install.every((o) => o.kind.startsWith("Cluster") || ["Namespace", "CustomResourceDefinition"].includes(o.kind) || o.metadata.namespace === "flux-system"));

    // The versions the graft repository uses are served.
    const served = new Set(
      readObjects(fluxCrdsManifest).flatMap((crd) => {
        const spec = crd.spec as { group: string; names: { kind: string }; versions: { name: string; served: boolean }[] };
        return spec.versions.filter((v) => v.served).map((v) => `${spec.group}/${v.name}/${spec.names.kind}`);
      }),
    );
    for (const needed of ["source.toolkit.fluxcd.io/v1/GitRepository", "kustomize.toolkit.fluxcd.io/v1/Kustomization", "helm.toolkit.fluxcd.io/v2/HelmRelease"]) {
      assert.ok(served.has(needed), `${needed} is not served by config/flux/crds.yaml`);
    }
  });
});

describe("flux controllers against a real API server", () => {
  let cp: ControlPlane;
  let flux: FluxControllers;
  let gitServer: GitServer;
  let work: string;
  let commit: string;
  const namespace = "fplus-edge";

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "graft-flux-test-"));
    cp = await startControlPlane({ name: "edge" });
    await installFluxCrds(cp);
    commit = makeRepo(work, "cluster", {
      "configmap.yaml": [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: flux-smoke",
        `  namespace: ${namespace}`,
        "data:",
        "  greeting: hello from git",
        "",
      ].join("\n"),
    });
    gitServer = await startGitServer(work, "op1flux/edge@EXAMPLE.COM", "s3cret:pass");
    flux = await startFlux({ kubeconfigPath: cp.kubeconfigPath, workDir: join(work, "flux") });
  });

  after(async () => {
    await flux?.stop();
    await gitServer?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("pulls the cluster repo with the flux-secrets credentials and applies it", async () => {
    const secret = (name: string, password: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace },
        stringData: { username: "op1flux/edge@EXAMPLE.COM", password },
      });
    const gitRepository = (name: string, secretName: string) =>
      JSON.stringify({
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: { name, namespace },
        spec: { interval: "1m", url: `${gitServer.url}/cluster.git`, ref: { branch: "main" }, secretRef: { name: secretName } },
      });
    await apply(cp, JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }));
    await apply(cp, secret("flux-secrets", "s3cret:pass"));
    await apply(cp, secret("wrong-secrets", "not-the-password"));
    await apply(cp, gitRepository("self-link", "flux-secrets"));
    await apply(cp, gitRepository("wrong-credentials", "wrong-secrets"));
    await apply(
      cp,
      JSON.stringify({
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: "self-link", namespace },
        spec: { interval: "1m", path: "./", prune: true, sourceRef: { kind: "GitRepository", name: "self-link" } },
      }),
    );

    const configMap = await eventually(() => getObject(cp, "configmap", namespace, "flux-smoke"), {
      timeoutMs: 180_000,
      intervalMs: 500,
      message: "ConfigMap 'flux-smoke' never appeared",
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${flux.recentLogs()}`);
    });
    assert.deepEqual((configMap as unknown as { data: Record<string, string> }).data, { greeting: "hello from git" });

    const kustomization = await eventually(
      async () => {
        const k = await getObject(cp, "kustomizations.kustomize.toolkit.fluxcd.io", namespace, "self-link");
        return condition(k, "Ready")?.status === "True" ? k : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "Kustomization 'self-link' did not become Ready" },
    );
    assert.equal(kustomization.status?.lastAppliedRevision, `main@sha1:${commit}`);

    const source = await getObject(cp, "gitrepositories.source.toolkit.fluxcd.io", namespace, "self-link");
    assert.equal(condition(source, "Ready")?.status, "True");
    const artifact = source?.status?.artifact as { revision: string; url: string };
    assert.equal(artifact.revision, `main@sha1:${commit}`);
    assert.ok(artifact.url.startsWith(`${flux.storageUrl}/`), `artifact URL ${artifact.url} is not on ${flux.storageUrl}`);

    // The server really checks the credentials: the repository with the wrong password never becomes Ready.
    const refused = await eventually(
      async () => {
        const r = await getObject(cp, "gitrepositories.source.toolkit.fluxcd.io", namespace, "wrong-credentials");
        return condition(r, "Ready")?.status === "False" && condition(r, "FetchFailed") ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "GitRepository 'wrong-credentials' did not report a failed fetch" },
    );
    assert.equal(condition(refused, "FetchFailed")?.reason, "GitOperationFailed");
    assert.ok(gitServer.rejected.includes("op1flux/edge@EXAMPLE.COM"), "the git server never refused a request");
  });

  it("accepts config/flux/install.yaml in a server-side dry run once its CRDs and namespace exist", async () => {
    const install = readObjects(fluxInstallManifest);
    const ns = install.find((o) => o.kind === "Namespace");
    assert.ok(ns, "install.yaml has no Namespace");
    await apply(cp, JSON.stringify(ns));
    const r = await cp.kubectl(["apply", "--dry-run=server", "-f", fluxInstallManifest]);
    assert.equal(r.code, 0, `server-side dry run of install.yaml failed: ${r.stderr}`);
    const accepted = r.stdout.split("\n").filter((l) => l.endsWith("(server dry run)"));
    assert.equal(accepted.length, install.length, `not every object was accepted:\n${r.stdout}\n${r.stderr}`);
  });
});
