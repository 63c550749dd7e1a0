// A loopback TCP proxy that can freeze: connections stay open but no byte is forwarded either way, as when a peer
// or a middlebox dies without closing the connection. Tests use it to show that a process notices a watch that
// silently stopped. Test helper only.
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Stops forwarding on every connection, current and new, without closing any. */
  freeze(): void;
  /** Forwards again (what was sent while frozen is lost, as across a link that came back). */
  thaw(): void;
  /** Cuts every connection and stops listening; safe to call more than once. */
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => { client.destroy(); upstream.destroy(); });
    }
    const forward = (from: Socket, to: Socket) => from.on("data", (chunk) => { if (!frozen) to.write(chunk); });
    forward(client, upstream);
    forward(upstream, client);
    client.on("end", () => { if (!frozen) upstream.end(); });
    upstream.on("end", () => { if (!frozen) client.end(); });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    }),
  };
}
