// graft: one binary, one subcommand per component.
import { Command } from "commander";
import { notImplemented } from "./not-implemented.js";

export function buildProgram(): Command {
  const program = new Command("graft")
    .description("Bootstrap and run edge Kubernetes clusters from a central one")
    .version("0.1.0")
    .showHelpAfterError();
  program.addCommand(notImplemented("cluster-manager", "central operator: reconciles EdgeClusters, serves bootstrap scripts and Git repos"));
  program.addCommand(notImplemented("bootstrap-command", "print the one-time bootstrap command of an EdgeCluster"));
  program.addCommand(notImplemented("edge-sync", "edge operator: pushes hosts and the Sealed Secrets certificate centrally"));
  program.addCommand(notImplemented("edge-monitor", "edge operator: the cluster as a Sparkplug B edge node"));
  program.addCommand(notImplemented("krbkeys", "edge operator: reconciles KerberosKey resources"));
  program.addCommand(notImplemented("enrol", "create the edge credentials (Kerberos mode)"));
  program.addCommand(notImplemented("seal", "seal a secret value for an edge cluster"));
  return program;
}

