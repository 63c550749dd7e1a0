// Which files of the checkout reach `docker build`: .dockerignore as Docker reads it (Go filepath.Match patterns
// plus `**`, `!` re-includes, the last matching pattern wins, a pattern that matches a directory covers what is
// inside it).
import { readdirSync, statSync } from "node:fs";
import { join, posix } from "node:path";

interface Pattern {
  negated: boolean;
  regex: RegExp;
}

function compile(raw: string): Pattern | undefined {
  let text = raw.trim();
  if (text === "" || text.startsWith("#")) return undefined;
  const negated = text.startsWith("!");
  if (negated) text = text.slice(1).trim();
  text = posix.normalize(text).replace(/^\/+/, "").replace(/\/+$/, "");
  let source = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "*" && text[i + 1] === "*") {
      const slash = text[i + 2] === "/";
      source += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") {
      source += "[^/]*";
    } else if (c === "?") {
      source += "[^/]";
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return { negated, regex: new RegExp(`^${source}$`) };
}

/** A predicate telling whether a path (relative, `/`-separated) is part of the build context. */
export function dockerignoreFilter(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore.split(/\r?\n/).map(compile).filter((p): p is Pattern => p !== undefined);
  return (path: string) => {
    const parts = path.split("/");
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let included = true;
    for (const p of patterns) {
      if (candidates.some((c) => p.regex.test(c))) included = p.negated;
    }
    return included;
  };
}

/** Every file under `dir` (relative to `root`) that the filter admits, skipping node_modules and dot folders. */
export function contextFiles(root: string, admitted: (path: string) => boolean, dir = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const rel = dir ? `${dir}/${name}` : name;
    if (statSync(join(root, rel)).isDirectory()) out.push(...contextFiles(root, admitted, rel));
    else if (admitted(rel)) out.push(rel);
  }
  return out;
}
