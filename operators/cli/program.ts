// graft: one binary, one subcommand per component.
import { Command } from "commander";
import { bootstrapCommandCommand } from "../cluster-manager/bootstrap-command.js";
import { fluxMigrateCommand } from "../cluster-manager/fleet/storage-migration.js";
import { clusterManagerCommand } from "../cluster-manager/main.js";
import { edgeMonitorCommand } from "../edge-monitor/main.js";
import { edgeSyncCommand } from "../edge-sync/main.js";
import { enrolCommand } from "../enrol/main.js";
import { krbkeysCommand } from "../krbkeys/main.js";
import { sealCommand } from "../seal/main.js";

export function buildProgram(): Command {
  const program = new Command("graft")
    .description("Bootstrap and run edge Kubernetes clusters from a central one")
    .version("0.1.0")
    .showHelpAfterError();
  program.addCommand(clusterManagerCommand());
  program.addCommand(bootstrapCommandCommand());
  program.addCommand(edgeSyncCommand());
  program.addCommand(edgeMonitorCommand());
  program.addCommand(krbkeysCommand());
  program.addCommand(enrolCommand());
  program.addCommand(sealCommand());
  program.addCommand(fluxMigrateCommand());
  return program;
}

