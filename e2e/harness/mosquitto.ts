// A real Mosquitto broker (Debian package `mosquitto`) for tests, on a loopback port with a generated config.
// Test and demo helper: never used by graft itself.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";

export interface MosquittoOptions {
  /** Extra lines for the listener (e.g. TLS certificate settings, `allow_anonymous false`, `password_file`). */
  listenerConfig?: string[];
  /** Scheme of the URL handed out (mqtts for a TLS listener). */
  scheme?: "mqtt" | "mqtts";
  /** The address it listens on and the URL names; default 127.0.0.1 (Pods of the real node need its bridge address). */
  host?: string;
  /**
   * A Mosquitto acl_file for the listener (e.g. the ACS stand-in's, e2e/acs-standin/mqtt-acl.ts): clients may then
   * publish and subscribe only where it allows. It must exist before the broker starts; reload() re-reads it.
   */
  aclFile?: string;
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** The broker's log so far: connections and disconnections (not denied publishes: Mosquitto logs those at `debug`). */
  log(): string;
  /**
   * SIGHUP: the broker re-reads its configuration, the ACL file included, and applies it to open connections;
   * resolves once its log says it reloaded (it does so between two packets, so what is sent afterwards meets the new
   * configuration).
   */
  reload(): Promise<void>;
  /** Stops the broker (SIGTERM; it saves its persistent sessions). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same config and persistence file. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), "graft-mosquitto-"));
  const port = await freePort();
  const host = opts.host ?? "127.0.0.1";
  const config = join(dir, "mosquitto.conf");
  writeFileSync(config, [
    // Without this Mosquitto started as root drops to the "mosquitto" user, which cannot write the temp dir.
    `user ${userInfo().username}`,
    "per_listener_settings true",
    `listener ${port} ${host}`,
    ...(opts.listenerConfig ?? ["allow_anonymous true"]),
    ...(opts.aclFile ? [`acl_file ${opts.aclFile}`] : []),
    // Sessions (and QoS 0 messages for offline persistent subscribers) survive a broker restart, so a test's
    // subscriber misses nothing published while it was reconnecting.
    "persistence true",
    `persistence_location ${dir}/`,
    "queue_qos0_messages true",
    "log_type error", "log_type warning", "log_type notice", "log_type information",
    "log_dest stderr",
    "",
  ].join("\n"));

  let proc: ManagedProcess | undefined;
  const log = () => {
    try {
      return readFileSync(join(dir, "mosquitto.log"), "utf8");
    } catch {
      return "";
    }
  };
  const start = async () => {
    const p = startProcess("mosquitto", ["-c", config], { logFile: join(dir, "mosquitto.log") });
    proc = p;
    await eventually(async () => {
      if (p.child.exitCode !== null) throw new Error(`mosquitto exited with ${p.child.exitCode}: see ${join(dir, "mosquitto.log")}`);
      return tcpReachable(host, port);
    }, { timeoutMs: 15_000, intervalMs: 50, message: `mosquitto did not listen on ${host}:${port}` });
  };
  const stop = async () => {
    await proc?.stop(5_000);
    proc = undefined;
  };
  await start();
  return {
    port,
    url: `${opts.scheme ?? "mqtt"}://${host}:${port}`,
    dir,
    log,
    reload: async () => {
      const p = proc;
      if (!p) return;
      const before = reloadsIn(log());
      p.child.kill("SIGHUP");
      await eventually(() => reloadsIn(log()) > before, { timeoutMs: 15_000, intervalMs: 20, message: "mosquitto logged no reload after SIGHUP" });
    },
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const reloadsIn = (log: string) => log.split("Reloading config.").length - 1;

function tcpReachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
