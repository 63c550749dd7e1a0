// Assembles config/flux/install.yaml and crds.yaml from the Go module sources of one Flux release, the way
// `flux install --export --components=<controllers>` lays them out: the flux2 module's manifests/ (bases, rbac,
// policies) plus the kustomization the CLI generates, with each controller's release assets
// (<controller>.crds.yaml = its config/crd, <controller>.deployment.yaml = its config/manager) read from the
// controller's own module instead of being downloaded. Run by regenerate.sh; see it for the arguments.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { build, type Resource } from "./kustomize-lite.js";

interface Controller {
  name: string;
  version: string;
  dir: string;
}

interface Options {
  fluxVersion: string;
  fluxDir: string;
  controllers: Controller[];
  namespace: string;
  outDir: string;
}

function parseArgs(argv: string[]): Options {
  const controllers: Controller[] = [];
  let fluxVersion = "";
  let fluxDir = "";
  let outDir = "";
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value after '${flag}'`);
    if (flag === "--flux") [fluxVersion, fluxDir] = splitOnce(value, "=");
    else if (flag === "--out") outDir = value;
    else if (flag === "--controller") {
      const [ref, dir] = splitOnce(value, "=");
      const [name, version] = splitOnce(ref, "@");
      controllers.push({ name, version, dir });
    } else throw new Error(`unknown argument '${flag}'`);
  }
  if (!fluxVersion || !fluxDir || !outDir || controllers.length === 0) {
    throw new Error("usage: assemble.ts --flux VERSION=DIR --controller NAME@VERSION=DIR... --out DIR");
  }
  return { fluxVersion, fluxDir, controllers, namespace: "flux-system", outDir };
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  if (i < 0) throw new Error(`expected '${sep}' in '${s}'`);
  return [s.slice(0, i), s.slice(i + 1)];
}

// Release assets named in flux2's manifests/bases/<controller>/kustomization.yaml, served from the module sources.
function releaseAssetResolver(controllers: Controller[]) {
  return (url: string): Resource[] => {
    const m = /^https:\/\/github\.com\/fluxcd\/([a-z-]+)\/releases\/download\/(v[^/]+)\/\1\.(crds|deployment)\.yaml$/.exec(url);
    if (!m) throw new Error(`no local source for remote resource '${url}'`);
    const [, name, version, asset] = m;
    const controller = controllers.find((c) => c.name === name);
    if (!controller) throw new Error(`'${url}' needs controller '${name}', which was not given`);
    if (controller.version !== version) {
      throw new Error(`flux manifests pin '${name}' ${version} but module version ${controller.version} was given`);
    }
    return build(path.join(controller.dir, "config", asset === "crds" ? "crd" : "manager"), releaseAssetResolver([]));
  };
}

function toYaml(resources: Resource[]): string {
  return resources.map((r) => "---\n" + stringify(r, { lineWidth: 0, indentSeq: false })).join("");
}

// The per-component arguments `flux install` sets; index positions follow the controllers' deployment args after
// flux2's base patch has put --events-addr first. Without notification-controller there is no events address.
function argPatches(component: string): object[] {
  const eventsAddr = "";
  const common = [
    { op: "replace", path: "/spec/template/spec/containers/0/args/0", value: `--events-addr=${eventsAddr}` },
    { op: "replace", path: "/spec/template/spec/containers/0/args/1", value: "--watch-all-namespaces=true" },
    { op: "replace", path: "/spec/template/spec/containers/0/args/2", value: "--log-level=info" },
  ];
  if (component !== "source-controller") return common;
  return [
    ...common,
    {
      op: "replace",
      path: "/spec/template/spec/containers/0/args/6",
      value: `--storage-adv-addr=${component}.$(RUNTIME_NAMESPACE).svc.cluster.local.`,
    },
  ];
}

/** Writes the files `flux install` generates next to its embedded bundles, then builds them. */
function assembleInstall(opts: Options): Resource[] {
  const resolve = releaseAssetResolver(opts.controllers);
  const manifests = path.join(opts.fluxDir, "manifests");
  const work = mkdtempSync(path.join(os.tmpdir(), "graft-flux-"));
  try {
    const components = opts.controllers.map((c) => c.name);
    for (const name of components) {
      writeFileSync(path.join(work, `${name}.yaml`), toYaml(build(path.join(manifests, "bases", name), resolve)));
    }
    writeFileSync(path.join(work, "policies.yaml"), toYaml(build(path.join(manifests, "policies"), resolve)));
    mkdirSync(path.join(work, "roles"));
    writeFileSync(path.join(work, "roles", "rbac.yaml"), toYaml(build(path.join(manifests, "rbac"), resolve)));
    writeFileSync(
      path.join(work, "roles", "kustomization.yaml"),
      stringify({ namespace: opts.namespace, resources: ["rbac.yaml"], nameSuffix: `-${opts.namespace}` }),
    );
    writeFileSync(
      path.join(work, "namespace.yaml"),
      stringify({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          name: opts.namespace,
          labels: { "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest" },
        },
      }),
    );
    writeFileSync(
      path.join(work, "labels.yaml"),
      stringify({
        apiVersion: "builtin",
        kind: "LabelTransformer",
        metadata: { name: "labels" },
        labels: {
          "app.kubernetes.io/instance": opts.namespace,
          "app.kubernetes.io/version": opts.fluxVersion,
          "app.kubernetes.io/part-of": "flux",
        },
        fieldSpecs: [
          { path: "metadata/labels", create: true },
          { kind: "Deployment", path: "spec/template/metadata/labels", create: true },
        ],
      }),
    );
    writeFileSync(
      path.join(work, "node-selector.yaml"),
      stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "all" },
        spec: { template: { spec: { nodeSelector: { "kubernetes.io/os": "linux" } } } },
      }),
    );
    writeFileSync(
      path.join(work, "kustomization.yaml"),
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        namespace: opts.namespace,
        transformers: ["labels.yaml"],
        resources: ["namespace.yaml", "policies.yaml", "roles", ...components.map((c) => `${c}.yaml`)],
        patches: [
          { path: "node-selector.yaml", target: { kind: "Deployment" } },
          ...components.map((c) => ({
            target: { group: "apps", version: "v1", kind: "Deployment", name: c },
            patch: stringify(argPatches(c)),
          })),
        ],
        images: components.map((c) => ({ name: `fluxcd/${c}`, newName: `ghcr.io/fluxcd/${c}` })),
      }),
    );
    return build(work, resolve);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const resources = assembleInstall(opts);
  const pins = opts.controllers.map((c) => `${c.name} ${c.version}`).join(", ");
  const header = (what: string) =>
    `# ${what} of Flux ${opts.fluxVersion} (${pins}), laid out as \`flux install --export\` does.\n` +
    "# Generated by config/flux/regenerate.sh from the Flux Go modules. DO NOT EDIT.\n";
  writeFileSync(path.join(opts.outDir, "install.yaml"), header("Install manifest") + toYaml(resources));
  const crds = resources.filter((r) => r.kind === "CustomResourceDefinition");
  writeFileSync(path.join(opts.outDir, "crds.yaml"), header("Custom resource definitions") + toYaml(crds));
}

try {
  main();
} catch (err) {
  console.error(`assemble: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
