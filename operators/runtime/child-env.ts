// The environment child processes get. Some code changes process.env for a moment: MIT's GSSAPI library reads its
// keytab and credential cache from environment variables, so operators/kerberos/gssapi.ts sets them for one exchange
// at a time. A process spawned meanwhile (kadmin, git, kubeseal) would inherit that one exchange's identity; every
// spawn therefore takes its environment from childProcessEnv(), which is process.env as it is outside such moments.

/** Variables set for the moment, with their values outside it (undefined: unset) and how many scopes hold them. */
const outside = new Map<string, { value: string | undefined; holders: number }>();

/**
 * Sets these variables in process.env (undefined: unset) until the returned function is called, which puts back the
 * values they had. Child processes started meanwhile do not see them.
 */
export function setProcessEnvForNow(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const key of Object.keys(vars)) {
    const held = outside.get(key);
    if (held) held.holders += 1;
    else outside.set(key, { value: process.env[key], holders: 1 });
  }
  assign(vars);
  return () => {
    assign(saved);
    for (const key of Object.keys(vars)) {
      const held = outside.get(key)!;
      held.holders -= 1;
      if (held.holders === 0) outside.delete(key);
    }
  };
}

/** process.env as it is outside every setProcessEnvForNow, with `extra` on top (undefined: unset), for a child process. */
export function childProcessEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, { value }] of outside) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

function assign(vars: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}
