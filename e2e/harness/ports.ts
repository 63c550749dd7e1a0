// Ports for servers a test starts before it can ask them which port they bound.
//
// Asking the OS for port 0 and closing it races: the port is in the ephemeral range, so any outgoing connection
// (or another test file doing the same) may take it before the server binds it (EADDRINUSE). Ports here come from
// below the ephemeral range instead, and each is reserved machine-wide by a lock file holding the reserving
// process's pid, so parallel test processes never hand out the same port; locks of dead processes are reclaimed.
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const LOCK_DIR = "/tmp/graft-test-ports";
const FIRST = 20000;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST + 1000 ? low : 32768;
  } catch {
    return 32768;
  }
}

const LAST = ephemeralLow() - 1;
const reservedHere = new Set<number>();
let next = FIRST + Math.floor(Math.random() * (LAST - FIRST));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the port's lock file for this process; reclaims it when the holder has exited. */
function reserve(port: number): boolean {
  const file = join(LOCK_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSync(file, "utf8") || "0");
      if (holder === process.pid || (holder > 0 && alive(holder))) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1, free now and handed to no other test process while this one runs. */
export async function freePort(): Promise<number> {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o1777 });
  for (let tries = 0; tries < LAST - FIRST; tries++) {
    const port = next;
    next = next >= LAST ? FIRST : next + 1;
    if (reservedHere.has(port) || !reserve(port)) continue;
    reservedHere.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${FIRST} and ${LAST}`);
}
