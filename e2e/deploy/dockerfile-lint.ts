// The Dockerfile check CI runs: the Dockerfile is parsed by dockerfile-ast and validated by dockerfile-utils (the
// parser and linter of the Docker language server: syntax, flags, duplicate stage names, relative WORKDIR, …, each
// reported under its ValidationCode name), and then held to graft's own rules for its image:
//
//   GL001  every base image is pinned: a version tag (not latest, lts, slim, bookworm …) or a digest
//   GL002  the final stage runs as a non-root USER
//   GL003  the final stage installs no build tools and runs no build (npm ci/install, tsc, gcc, make …)
//   GL004  files are not re-owned with RUN chown -R / chmod -R (use COPY --chown / --chmod)
//   GL005  COPY into the final stage does not hand files to the runtime user: the process cannot rewrite its code
//   GL006  apt-get install --no-install-recommends, and the apt lists removed in the RUN that fills them
//   GL007  npm ci (the lock file, exactly), never npm install
//   GL008  ENTRYPOINT and CMD in JSON form, so SIGTERM reaches graft itself and it shuts down cleanly
//
// CI runs it through e2e/deploy.test.ts; by hand: `npx tsx e2e/deploy/dockerfile-lint.ts [Dockerfile]`.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { DockerfileParser, type Copy, type From, type Instruction as AstInstruction } from "dockerfile-ast";
import { validate, ValidationCode, ValidationSeverity, type ValidatorSettings } from "dockerfile-utils";

export interface Finding {
  line: number;
  code: string;
  message: string;
}

export interface Instruction {
  /** 1-based line of the instruction's first physical line. */
  line: number;
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** Everything after the keyword, continuations joined. */
  args: string;
  /** Index of the build stage (0 = first FROM); -1 before the first FROM (global ARGs). */
  stage: number;
  /** The flags (`--from=build`) of COPY and ADD. */
  flags: Record<string, string>;
  /** For FROM: the image reference with the global ARGs' defaults expanded. */
  image?: string;
}

/** The instructions of a Dockerfile, as dockerfile-ast parses them, with their build stage. */
export function readDockerfile(text: string): { instructions: Instruction[]; stages: number } {
  const file = DockerfileParser.parse(text);
  const globals = new Map(file.getInitialARGs().map((arg) => [arg.getProperty()?.getName() ?? "", arg.getProperty()?.getValue() ?? ""]));
  let stage = -1;
  const instructions = file.getInstructions().map((ins: AstInstruction): Instruction => {
    const keyword = ins.getKeyword().toUpperCase();
    if (keyword === "FROM") stage++;
    const flags = keyword === "COPY" || keyword === "ADD"
      ? Object.fromEntries((ins as Copy).getFlags().map((f) => [f.getName(), f.getValue() ?? ""]))
      : {};
    const image = keyword === "FROM" ? expand((ins as From).getImage() ?? "", globals) : undefined;
    const args = (ins.getArgumentsContent() ?? "").replace(/\s+/g, " ").trim();
    return { line: ins.getRange().start.line + 1, keyword, args, stage, flags, ...(image !== undefined ? { image } : {}) };
  });
  return { instructions, stages: stage + 1 };
}

const BUILD_TOOLS = /(?<=^|[\s;])(build-essential|gcc|g\+\+|make|cmake|python3?|golang|cargo|rustc|npm (ci|install|i)|yarn (install|add)|tsc|npx tsc|node-gyp)(?=$|[\s;])/;

/** Every check dockerfile-utils can make, as an error. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR, directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR, instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR, instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR, instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

export function lintDockerfile(text: string): Finding[] {
  const findings: Finding[] = validate(text, STRICT).map((d) => ({
    line: d.range.start.line + 1,
    code: typeof d.code === "number" ? (ValidationCode[d.code] ?? String(d.code)) : String(d.code),
    message: typeof d.message === "string" ? d.message : d.message.value,
  }));
  const { instructions, stages } = readDockerfile(text);
  const report = (ins: Instruction, code: string, message: string) => findings.push({ line: ins.line, code, message });
  const final = instructions.filter((i) => i.stage === stages - 1);
  const runtimeUser = final.findLast((i) => i.keyword === "USER");
  const stageNames = new Set<string>();

  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      checkImage(ins, stageNames, report);
      const alias = /\sAS\s+(\S+)$/i.exec(ins.args)?.[1];
      if (alias) stageNames.add(alias.toLowerCase());
    }
    if (ins.stage === stages - 1 && (ins.keyword === "CMD" || ins.keyword === "ENTRYPOINT") && !ins.args.startsWith("[")) {
      report(ins, "GL008", `${ins.keyword} in shell form: use the JSON form so SIGTERM reaches graft`);
    }
    if (ins.keyword === "COPY" && ins.stage === stages - 1 && ins.flags.chown !== undefined && runtimeUser) {
      const owner = ins.flags.chown.split(":")[0];
      const user = runtimeUser.args.split(":")[0];
      if (owner && owner === user && !/^(root|0)$/.test(owner)) {
        report(ins, "GL005", `COPY --chown=${ins.flags.chown} gives the files to the runtime user "${user}": keep code owned by root`);
      }
    }
    if (ins.keyword === "RUN") checkRun(ins, ins.stage === stages - 1, report);
  }
  const finalFrom = final.find((i) => i.keyword === "FROM");
  if (!finalFrom) {
    findings.push({ line: 1, code: "GL002", message: "no FROM instruction" });
  } else if (!runtimeUser) {
    report(finalFrom, "GL002", "the final stage sets no USER: the image would run as root");
  } else if (/^(root|0)(:|$)/.test(runtimeUser.args)) {
    report(runtimeUser, "GL002", `the final stage runs as "${runtimeUser.args}": use a non-root user`);
  }
  return findings.sort((a, b) => a.line - b.line);
}

type Report = (ins: Instruction, code: string, message: string) => void;

function checkImage(ins: Instruction, earlierStages: Set<string>, report: Report) {
  const image = ins.image ?? "";
  if (image.includes("$")) return report(ins, "GL001", `image "${image}" depends on an ARG without a default`);
  if (image === "scratch" || earlierStages.has(image.toLowerCase())) return;
  const { tag, digest } = imageParts(image);
  if (digest) return;
  if (tag === undefined) report(ins, "GL001", `image "${image}" has no tag: pin a version`);
  else if (!/\d/.test(tag)) report(ins, "GL001", `image "${image}" uses the floating tag "${tag}": pin a version or a digest`);
}

/** Tag and digest of an image reference; a registry port (`host:5000/x`) is not a tag. */
export function imageParts(image: string): { name: string; tag?: string; digest?: string } {
  const [withTag, digest] = image.split("@", 2) as [string, string?];
  const slash = withTag.lastIndexOf("/");
  const colon = withTag.indexOf(":", slash + 1);
  const name = colon < 0 ? withTag : withTag.slice(0, colon);
  return { name, ...(colon >= 0 ? { tag: withTag.slice(colon + 1) } : {}), ...(digest ? { digest } : {}) };
}

function checkRun(ins: Instruction, inFinalStage: boolean, report: Report) {
  const script = ins.args.startsWith("[") ? jsonArgs(ins.args) : ins.args;
  const commands = script.split(/&&|;|\|\|/).map((c) => c.trim());
  const installs = commands.filter((c) => /^(\S+=\S+\s+)*apt-get\s.*\binstall\b/.test(c));
  if (installs.some((c) => !c.includes("--no-install-recommends"))) report(ins, "GL006", "apt-get install without --no-install-recommends");
  const updates = commands.some((c) => /\bapt-get\s+(-\S+\s+)*update\b/.test(c));
  if ((installs.length > 0 || updates) && !/rm\s+-r?f?r?\s+\/var\/lib\/apt\/lists/.test(script)) {
    report(ins, "GL006", "the apt lists are left in the layer: rm -rf /var/lib/apt/lists/* in the same RUN");
  }
  if (/\bnpm\s+(install|i)\b/.test(script)) report(ins, "GL007", "npm install: use npm ci, which installs the lock file exactly");
  if (/\b(chown|chmod)\s+(-\w*R|--recursive)/.test(script)) report(ins, "GL004", "recursive chown/chmod duplicates the files in a new layer: use COPY --chown/--chmod");
  if (inFinalStage) {
    const tool = BUILD_TOOLS.exec(installs.join(" ")) ?? BUILD_TOOLS.exec(commands.filter((c) => !c.startsWith("rm ")).join(" ; "));
    if (tool) report(ins, "GL003", `the final stage installs or runs a build tool ("${tool[0]}"): build in an earlier stage`);
  }
}

/** `$NAME` and `${NAME}` replaced by the global ARGs' defaults; unknown names stay as written. */
function expand(value: string, args: Map<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced?: string, bare?: string) => args.get((braced ?? bare)!) ?? whole);
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
