// The `graft` CLI compiled to JavaScript the way the container image builds it (tsc of operators/cli/main.ts and
// what it imports), in a temporary directory outside the checkout. Memory figures are taken from this form: under
// tsx the same process carries the TypeScript loader and every module's source map (about 90 MiB more).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface CompiledCli {
  /** The compiled entry point: `node <main> cluster-manager …`. */
  main: string;
  /** Environment the image sets for files that live beside the code. */
  env: Record<string, string>;
  remove(): void;
}

export async function compileCli(): Promise<CompiledCli> {
  const dir = mkdtempSync(join(tmpdir(), "graft-bench-build-"));
  // Package type (ESM), dependencies and the bootstrap driver resolve from the checkout through these links.
  for (const name of ["package.json", "node_modules", "operators"]) symlinkSync(join(repoRoot, name), join(dir, name));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    extends: join(repoRoot, "tsconfig.build.json"),
    include: [],
    files: [join(repoRoot, "operators/cli/main.ts")],
    compilerOptions: { outDir: join(dir, "dist"), rootDir: repoRoot, sourceMap: false, declaration: false, noEmitOnError: false },
  }));
  const main = join(dir, "dist/operators/cli/main.js");
  // Type errors elsewhere in a working tree do not stop the emit; a missing output does.
  await run(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { cwd: dir })
    .catch(() => undefined);
  if (!existsSync(main)) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error("compiling the graft CLI with tsc produced no dist/operators/cli/main.js");
  }
  return {
    main,
    env: {
      NODE_ENV: "production",
      FLUX_INSTALL_MANIFEST: join(repoRoot, "config/flux/install.yaml"),
      CHART_DIR: join(repoRoot, "config/edge-cluster"),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The runtime tuning the cluster-manager Deployment sets (V8's and glibc's), so memory is measured as deployed. */
export function deployedRuntimeEnv(): Record<string, string> {
  const deployment = parse(readFileSync(join(repoRoot, "config/manager/cluster-manager/deployment.yaml"), "utf8")) as
    { spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } } };
  const env = deployment.spec.template.spec.containers.flatMap((c) => c.env ?? []);
  const tuning: Record<string, string> = {};
  for (const name of ["NODE_OPTIONS", "GLIBC_TUNABLES"]) {
    const value = env.find((e) => e.name === name)?.value;
    if (value !== undefined) tuning[name] = value;
  }
  return tuning;
}
