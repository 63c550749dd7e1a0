// What `curl -fsSL '<link>.sh' | sh -` runs when the link cannot give a bootstrap script (used, expired, replaced,
// unknown, its cluster deleted): a script that prints the reason to stderr and exits 1, so the person sees why and
// the command fails. Wrapped in a function so a truncated download runs nothing.
import { shellQuote } from "./shell-quote.js";

export function refusalScript(message: string, status: number): string {
  const text = message.replace(/[\0\r]/g, "").trimEnd();
  return [
    "#!/bin/sh",
    `# graft: this bootstrap link was refused (HTTP ${status}); nothing was changed.`,
    "graft_refused() {",
    `  printf '%s\\n' ${shellQuote(`graft bootstrap: ${text}`)} >&2`,
    "  exit 1",
    "}",
    "graft_refused",
    "",
  ].join("\n");
}
