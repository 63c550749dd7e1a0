// Single-quoting for POSIX sh: inside '...' every byte is literal, and a quote is written as '\'' (close, escaped
// quote, reopen). Built with split/join so no replacement pattern ($&, $') can ever apply.

export function shellQuote(value: string): string {
  if (value.includes("\0")) throw new Error("a shell word cannot contain a NUL byte");
  return `'${value.split("'").join(`'\\''`)}'`;
}

/** `name='value'` for a settings file; `name` must be a plain shell variable name. */
export function shellAssignment(name: string, value: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a lower-case shell variable name`);
  return `${name}=${shellQuote(value)}`;
}
