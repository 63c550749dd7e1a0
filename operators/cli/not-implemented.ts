import { Command } from "commander";

/** A subcommand whose component does not exist yet: it says so and exits non-zero, never pretends. */
export function notImplemented(name: string, description: string): Command {
  return new Command(name)
    .description(`${description} (not implemented yet)`)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error(`${name}: not implemented`);
    });
}
