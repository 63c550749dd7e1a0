// The public listener's bounds: a client that never finishes its headers, or sits idle, is cut off; /metrics is not
// served here, and the public Service publishes only this listener.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { silentLogger } from "../runtime/logger.js";
import { startPublicServer } from "./http-server.js";

/** Opens a connection, sends what is given, and resolves with what came back once the server closes it. */
function linger(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(send));
    let got = "";
    socket.on("data", (c: Buffer) => (got += c.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

test("slow headers get 408 and the connection closed", async () => {
  const server = await startPublicServer([], { host: "127.0.0.1", port: 0, log: silentLogger, timeouts: { headersTimeoutMs: 300, idleTimeoutMs: 60_000 } });
  try {
    assert.match(await linger(server.port, "GET /v1/bootstrap/x HTTP/1.1\r\nHost: x\r\n"), /^HTTP\/1\.1 408/);
  } finally {
    await server.close();
  }
});

test("a connection that sends nothing is closed", async () => {
  const server = await startPublicServer([], { host: "127.0.0.1", port: 0, log: silentLogger, timeouts: { idleTimeoutMs: 300 } });
  try {
    assert.equal(await linger(server.port, ""), "");
  } finally {
    await server.close();
  }
});

test("the public listener does not serve /metrics, and the public Service publishes only it", async () => {
  const server = await startPublicServer([], { host: "127.0.0.1", port: 0, log: silentLogger });
  try {
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status, 404);
  } finally {
    await server.close();
  }
  const service = parse(readFileSync(fileURLToPath(new URL("../../config/manager/cluster-manager/service.yaml", import.meta.url)), "utf8")) as
    { spec: { ports: Array<{ name: string; targetPort: string | number }> } };
  assert.deepEqual(service.spec.ports.map((p) => p.targetPort), ["http"], "only the public listener's port");
});
