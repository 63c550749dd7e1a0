#!/usr/bin/env node
import { buildProgram } from "./program.js";

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  console.error(`graft: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
