// Runs the `edge-sync` command as its own process, for tests (the `graft` CLI wires the same command).
import { edgeSyncCommand } from "../../../operators/edge-sync/main.js";

await edgeSyncCommand().parseAsync(process.argv);
