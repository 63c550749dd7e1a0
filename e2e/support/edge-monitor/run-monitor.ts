// Entry script for tests that need the monitor as a separate process (kill -9, SIGTERM): runs the real command.
import { edgeMonitorCommand } from "../../../operators/edge-monitor/main.js";

await edgeMonitorCommand().parseAsync(process.argv);
