// The operators' logger: JSON lines (or console text) with the controller's name under "controller", so "name" is
// free for the object a line is about, and secret-looking keys redacted.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** "json" (default) for machines, "console" for a person at a terminal. */
  encoding?: "json" | "console";
  /** Where lines go (default: stdout); for tests. */
  destination?: DestinationStream;
}

/**
 * Values under these keys are replaced before a line is written, wherever they sit in the logged object,
 * so a secret passed to the logger by mistake never reaches the output.
 */
const REDACTED_KEYS = [
  "password", "token", "secret", "authorization", "keytab", "stringData", "data",
  "*.password", "*.token", "*.secret", "*.authorization", "*.keytab", "*.stringData",
  "headers.authorization", "req.headers.authorization",
];

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? ((process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? "info");
  // No pino `name`: it would be written as "name" too, beside the object name callers log under that key.
  return pino({
    level,
    base: { controller: name },
    redact: { paths: REDACTED_KEYS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, options.destination);
}

/** A logger that writes nothing: for tests and library callers that do not care. */
export const silentLogger: Logger = pino({ level: "silent" });
