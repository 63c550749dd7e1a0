// The Dockerfile check CI runs in place of hadolint, which has no Debian package, npm package or Go module to
// install here (it is a Haskell program). It checks the hadolint rules that matter for graft's image, under the
// same codes so that `# hadolint ignore=CODE` comments mean the same to both tools, plus a few of graft's own (GL):
//
//   DL3006  FROM names a tag or digest            DL3007  no `latest` tag
//   GL001   the tag is a version, not a floating name (lts, slim, bookworm …) or the image is pinned by digest
//   DL3002  the last USER of the final stage is not root    GL002  the final stage has a USER at all
//   DL3014  apt-get install -y                    DL3015  apt-get install --no-install-recommends
//   DL3009  the apt lists are removed in the RUN that fills them     DL3027  apt-get, not apt
//   DL3000  WORKDIR is absolute                   DL3004  no sudo
//   DL3020  COPY, not ADD, for local files        DL3025  CMD/ENTRYPOINT in JSON form
//   DL3024  stage names are unique                DL3022  COPY --from names an earlier stage
//   DL4006  a RUN with a pipe runs under `set -o pipefail` (SHELL)
//   DL3016  npm ci (lock file), never npm install
//   GL003   the final stage installs no build tools and runs no build (npm ci/install, tsc, gcc, make …)
//   GL004   files are not re-owned with RUN chown -R / chmod -R (use COPY --chown / --chmod)
//   GL005   COPY into the final stage does not hand files to the runtime user: the process cannot rewrite its code
// Deliberately not checked: DL3008 (apt version pins; Debian security updates replace pinned versions) and
// HEALTHCHECK (Kubernetes probes do that job).
//
// CI runs it through e2e/deploy.test.ts; by hand: `npx tsx e2e/deploy/dockerfile-lint.ts [Dockerfile]`.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { expandArgs, parseDockerfile, splitFlags, type Dockerfile, type Instruction } from "./dockerfile.js";

export interface Finding {
  line: number;
  code: string;
  message: string;
}

const BUILD_TOOLS = /(?<=^|[\s;])(build-essential|gcc|g\+\+|make|cmake|python3?|golang|cargo|rustc|npm (ci|install|i)|yarn (install|add)|tsc|npx tsc|node-gyp)(?=$|[\s;])/;

export function lintDockerfile(text: string): Finding[] {
  const file = parseDockerfile(text);
  const findings: Finding[] = [];
  const report = (ins: Pick<Instruction, "line" | "ignored">, code: string, message: string) => {
    if (!ins.ignored.includes(code)) findings.push({ line: ins.line, code, message });
  };
  if (file.stages.length === 0) {
    findings.push({ line: 1, code: "DL3061", message: "no FROM instruction" });
    return findings;
  }
  const finalStage = file.stages.length - 1;
  checkImages(file, report);

  let pipefail = false;
  const stageNames = new Set<string>();
  let finalUser: { user: string; ins: Instruction } | undefined;
  for (const ins of file.instructions) {
    const { keyword, args } = ins;
    if (keyword === "FROM") pipefail = false;
    if (keyword === "SHELL") pipefail = /pipefail/.test(args);
    if (keyword === "WORKDIR" && !/^(\/|\$)/.test(args.replace(/^"/, ""))) report(ins, "DL3000", `WORKDIR "${args}" is not absolute`);
    if ((keyword === "CMD" || keyword === "ENTRYPOINT") && !args.startsWith("[")) {
      report(ins, "DL3025", `${keyword} in shell form: use the JSON form so signals reach the process`);
    }
    if (keyword === "ADD" && !/https?:\/\/|\.tar(\.[a-z0-9]+)?\b|\.tgz\b/.test(args)) report(ins, "DL3020", "ADD of local files: use COPY");
    if (keyword === "USER" && ins.stage === finalStage) finalUser = { user: args, ins };
    if (keyword === "COPY") checkCopy(ins, file, stageNames, finalStage, report);
    if (keyword === "RUN") checkRun(ins, pipefail, ins.stage === finalStage, report);
    if (keyword === "FROM") {
      const alias = file.stages[ins.stage]!.alias;
      if (alias) {
        if (stageNames.has(alias.toLowerCase())) report(ins, "DL3024", `stage name "${alias}" is used twice`);
        stageNames.add(alias.toLowerCase());
      }
    }
  }
  const finalFrom = file.instructions.find((i) => i.keyword === "FROM" && i.stage === finalStage)!;
  if (!finalUser) {
    report(finalFrom, "GL002", "the final stage sets no USER: the image would run as root");
  } else if (/^(root|0)(:|$)/.test(finalUser.user)) {
    report(finalUser.ins, "DL3002", `the final stage runs as "${finalUser.user}": use a non-root user`);
  }
  return findings.sort((a, b) => a.line - b.line);
}

type Report = (ins: Pick<Instruction, "line" | "ignored">, code: string, message: string) => void;

function checkImages(file: Dockerfile, report: Report) {
  const earlier = new Set<string>();
  for (const stage of file.stages) {
    const ins = file.instructions.find((i) => i.keyword === "FROM" && i.stage === stage.index)!;
    const image = expandArgs(stage.image, file.globalArgs);
    if (image.includes("$")) {
      report(ins, "DL3006", `image "${stage.image}" depends on an ARG without a default`);
    } else if (image !== "scratch" && !earlier.has(image.toLowerCase())) {
      const { tag, digest } = imageParts(image);
      if (!digest) {
        if (tag === undefined) report(ins, "DL3006", `image "${image}" has no tag: pin a version`);
        else if (tag === "latest") report(ins, "DL3007", `image "${image}" uses the latest tag: pin a version`);
        else if (!/\d/.test(tag)) report(ins, "GL001", `image "${image}" uses the floating tag "${tag}": pin a version or a digest`);
      }
    }
    if (stage.alias) earlier.add(stage.alias.toLowerCase());
  }
}

/** Tag and digest of an image reference; a registry port (`host:5000/x`) is not a tag. */
export function imageParts(image: string): { name: string; tag?: string; digest?: string } {
  const [withTag, digest] = image.split("@", 2) as [string, string?];
  const slash = withTag.lastIndexOf("/");
  const colon = withTag.indexOf(":", slash + 1);
  const name = colon < 0 ? withTag : withTag.slice(0, colon);
  return { name, ...(colon >= 0 ? { tag: withTag.slice(colon + 1) } : {}), ...(digest ? { digest } : {}) };
}

function checkCopy(ins: Instruction, file: Dockerfile, stageNames: Set<string>, finalStage: number, report: Report) {
  const { flags } = splitFlags(ins.args);
  const from = flags.from;
  if (from !== undefined && !/^\d+$/.test(from) && !stageNames.has(from.toLowerCase()) && !from.includes("/") && !from.includes(":")) {
    report(ins, "DL3022", `COPY --from=${from} names no earlier stage`);
  }
  if (ins.stage !== finalStage || flags.chown === undefined) return;
  const runtimeUser = [...file.instructions].reverse().find((i) => i.keyword === "USER" && i.stage === finalStage)?.args;
  const owner = flags.chown.split(":")[0];
  const user = runtimeUser?.split(":")[0];
  if (owner && user && owner === user && !/^(root|0)$/.test(owner)) {
    report(ins, "GL005", `COPY --chown=${flags.chown} gives the files to the runtime user "${user}": keep code owned by root`);
  }
}

function checkRun(ins: Instruction, pipefail: boolean, inFinalStage: boolean, report: Report) {
  const script = ins.args.startsWith("[") ? jsonArgs(ins.args) : ins.args;
  const commands = script.split(/&&|;|\|\|/).map((c) => c.trim());
  const installs = commands.filter((c) => /^(\S+=\S+\s+)*apt-get\s.*\binstall\b/.test(c));
  for (const c of installs) {
    if (!/\s(-[a-z]*y[a-z]*|--yes|--assume-yes)(?=\s|$)/.test(c)) report(ins, "DL3014", "apt-get install without -y");
    if (!c.includes("--no-install-recommends")) report(ins, "DL3015", "apt-get install without --no-install-recommends");
  }
  const updates = commands.some((c) => /\bapt-get\s+(-\S+\s+)*update\b/.test(c));
  if ((installs.length > 0 || updates) && !/rm\s+-r?f?r?\s+\/var\/lib\/apt\/lists/.test(script)) {
    report(ins, "DL3009", "the apt lists are left in the layer: rm -rf /var/lib/apt/lists/* in the same RUN");
  }
  if (commands.some((c) => /^apt\s/.test(c))) report(ins, "DL3027", "use apt-get, not apt");
  if (/(^|\s)sudo\s/.test(script)) report(ins, "DL3004", "do not use sudo");
  if (/(^|[^|])\|([^|]|$)/.test(script) && !pipefail) {
    report(ins, "DL4006", "RUN with a pipe: set SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] first");
  }
  if (/\bnpm\s+(install|i)\b/.test(script)) report(ins, "DL3016", "npm install: use npm ci, which installs the lock file exactly");
  if (/\b(chown|chmod)\s+(-\w*R|--recursive)/.test(script)) report(ins, "GL004", "recursive chown/chmod duplicates the files in a new layer: use COPY --chown/--chmod");
  if (inFinalStage) {
    const tool = BUILD_TOOLS.exec(installs.join(" ")) ?? BUILD_TOOLS.exec(commands.filter((c) => !c.startsWith("rm ")).join(" ; "));
    if (tool) report(ins, "GL003", `the final stage installs or runs a build tool ("${tool[0]}"): build in an earlier stage`);
  }
}

function jsonArgs(args: string): string {
  try {
    return (JSON.parse(args) as string[]).join(" ");
  } catch {
    return args;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = process.argv[2] ?? "Dockerfile";
  const findings = lintDockerfile(readFileSync(path, "utf8"));
  for (const f of findings) process.stderr.write(`${path}:${f.line} ${f.code} ${f.message}\n`);
  process.exitCode = findings.length > 0 ? 1 : 0;
}
