// A small Dockerfile reader for the lint in dockerfile-lint.ts: logical instructions (continuations joined, comment
// lines dropped), their build stage, and `# hadolint ignore=` comments, which apply to the next instruction.

export interface Instruction {
  /** 1-based line of the instruction's first physical line. */
  line: number;
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** Index of the build stage (0 = first FROM); -1 before the first FROM (global ARGs). */
  stage: number;
  /** Rule codes a preceding `# hadolint ignore=A,B` comment switches off for this instruction. */
  ignored: string[];
}

export interface Stage {
  index: number;
  /** The image reference as written (`${ARG}` not expanded), e.g. `${NODE_IMAGE}` or `debian:12-slim`. */
  image: string;
  alias?: string;
  line: number;
}

export interface Dockerfile {
  instructions: Instruction[];
  stages: Stage[];
  /** Default values of the ARGs declared before the first FROM. */
  globalArgs: Record<string, string>;
}

const IGNORE = /^#\s*hadolint\s+ignore\s*=\s*([A-Za-z0-9, ]+)/;

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  const globalArgs: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  let pendingIgnores: string[] = [];
  let stage = -1;

  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === "") continue;
    if (first.startsWith("#")) {
      const ignore = IGNORE.exec(first);
      if (ignore) pendingIgnores.push(...ignore[1]!.split(",").map((c) => c.trim()).filter(Boolean));
      continue;
    }
    const start = i;
    let logical = first;
    while (logical.endsWith("\\") && i + 1 < lines.length) {
      logical = logical.slice(0, -1);
      i++;
      const next = lines[i]!.trim();
      if (next.startsWith("#")) {
        // A comment inside a continuation is dropped; the instruction goes on.
        logical += "\\";
        continue;
      }
      logical += ` ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/s.exec(logical)!;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.replace(/\s+/g, " ").trim();
    if (keyword === "FROM") {
      stage = stages.length;
      const [image = "", as, alias] = args.split(" ").filter((w) => !w.startsWith("--"));
      stages.push({ index: stage, image, line: start + 1, ...(as?.toUpperCase() === "AS" && alias ? { alias } : {}) });
    } else if (keyword === "ARG" && stage === -1) {
      const [name, value = ""] = args.split("=", 2) as [string, string?];
      globalArgs[name.trim()] = (value ?? "").trim().replace(/^"(.*)"$/, "$1");
    }
    instructions.push({ line: start + 1, keyword, args, stage, ignored: pendingIgnores });
    pendingIgnores = [];
  }
  return { instructions, stages, globalArgs };
}

/** Expands `$NAME` and `${NAME}` from the given ARG values; unknown names stay as written. */
export function expandArgs(value: string, args: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced?: string, bare?: string) => args[(braced ?? bare)!] ?? whole);
}

/** The `--name=value` flags at the start of COPY/ADD/RUN arguments, and the rest. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!m) break;
    flags[m[1]!] = m[2] ?? "";
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}
