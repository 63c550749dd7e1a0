// The public listener's bounds: a client that never finishes its headers, or sits idle, is cut off; a kept-alive
// connection is closed once its keep-alive time is up; connections beyond the cap are closed unanswered while those
// within it keep working; /metrics is not served here, and the public Service publishes only this listener.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { eventually } from "../../e2e/harness/eventually.js";
import { silentLogger } from "../runtime/logger.js";
import { startPublicServer, type RouteHandler } from "./http-server.js";

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

/** Answers GET /ping with 200 "pong". */
const ping: RouteHandler = async (_req, res, path) => {
  if (path !== "/ping") return false;
  res.writeHead(200, { "content-type": "text/plain" }).end("pong");
  return true;
};

/** A raw keep-alive connection: request() sends a GET and resolves with the response; closed says when it ended. */
async function keepAliveConnection(port: number) {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let buffer = "";
  let waiter: ((response: string) => void) | undefined;
  const closed = new Promise<string>((resolve) => {
    socket.on("error", () => {});
    socket.on("close", () => resolve(buffer));
  });
  socket.on("data", (c: Buffer) => {
    buffer += c.toString("latin1");
    // The ping response is complete once its 4-byte body follows the headers.
    const end = buffer.indexOf("\r\n\r\n");
    if (waiter && end >= 0 && buffer.length >= end + 4 + 4) {
      const response = buffer;
      buffer = "";
      waiter(response);
    }
  });
  return {
    socket, closed,
    request(): Promise<string> {
      return new Promise((resolve, reject) => {
        waiter = resolve;
        closed.then((rest) => reject(new Error(`closed before a response: ${JSON.stringify(rest)}`)));
        socket.write("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
      });
    },
  };
}

test("a kept-alive connection is told its keep-alive time and closed once it has passed without a request", async () => {
  const server = await startPublicServer([ping], { host: "127.0.0.1", port: 0, log: silentLogger, limits: { keepAliveTimeoutMs: 1000, idleTimeoutMs: 60_000 } });
  try {
    const c = await keepAliveConnection(server.port);
    const first = await c.request();
    assert.match(first, /^HTTP\/1\.1 200/);
    assert.match(first, /\r\nkeep-alive: timeout=1\r\n/i, "the response says how long the connection is kept");
    assert.match(await c.request(), /^HTTP\/1\.1 200/, "the connection is reused for a second request");
    // Well inside the 60 s idle timeout: only the keep-alive time can close it.
    assert.equal(await c.closed, "", "the server closed the idle kept-alive connection, sending nothing more");
  } finally {
    await server.close();
  }
});

test("connections beyond --max-connections are closed unanswered; those within it keep working", async () => {
  const max = 4;
  const server = await startPublicServer([ping], { host: "127.0.0.1", port: 0, log: silentLogger, limits: { maxConnections: max, keepAliveTimeoutMs: 60_000 } });
  const open: Array<Awaited<ReturnType<typeof keepAliveConnection>>> = [];
  try {
    for (let i = 0; i < max; i++) {
      const c = await keepAliveConnection(server.port);
      assert.match(await c.request(), /^HTTP\/1\.1 200/, `connection ${i + 1} of ${max} is served`);
      open.push(c);
    }
    // Three more than the cap: each is closed without a byte of response, whether or not it got its request out.
    for (let i = 0; i < 3; i++) {
      const extra = await keepAliveConnection(server.port);
      extra.socket.write("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(await extra.closed, "", `connection ${max + i + 1} was closed unanswered`);
    }
    assert.equal(server.drops, 3);
    for (const c of open) assert.match(await c.request(), /^HTTP\/1\.1 200/, "the connections within the cap still work");

    // A slot freed is a slot a new connection gets (once the server has seen the close).
    open.shift()!.socket.destroy();
    open.push(await eventually(async () => {
      const c = await keepAliveConnection(server.port);
      return c.request().then(() => c, () => undefined);
    }, { message: "a new connection is served once one within the cap closed" }));
    assert.equal(open.length, max);
  } finally {
    for (const c of open) c.socket.destroy();
    await server.close();
  }
});

test("slow headers get 408 and the connection closed", async () => {
  const server = await startPublicServer([], { host: "127.0.0.1", port: 0, log: silentLogger, limits: { headersTimeoutMs: 300, idleTimeoutMs: 60_000 } });
  try {
    assert.match(await linger(server.port, "GET /v1/bootstrap/x HTTP/1.1\r\nHost: x\r\n"), /^HTTP\/1\.1 408/);
  } finally {
    await server.close();
  }
});

test("a connection that sends nothing is closed", async () => {
  const server = await startPublicServer([], { host: "127.0.0.1", port: 0, log: silentLogger, limits: { idleTimeoutMs: 300 } });
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
