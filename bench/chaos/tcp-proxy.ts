/**
 * A TCP proxy on loopback between a worker and nats-server, so the chaos
 * suite can cut a worker's connection (destroy its sockets) or stall it
 * (stop forwarding for a while) without touching either process.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Sends new connections to another port (a restarted upstream on a new port). */
  retarget(port: number): void;
  /** Drops every open connection (the client reconnects). */
  cut(): void;
  /** Stops forwarding bytes for `ms`, both ways, then resumes. */
  stall(ms: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let stalledUntil = 0;
  let target = targetPort;
  const server: Server = createServer((client) => {
    const upstream = connect(target, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (d: Buffer) => {
        const wait = stalledUntil - Date.now();
        if (wait > 0) {
          from.pause();
          setTimeout(() => {
            to.write(d);
            from.resume();
          }, wait);
        } else to.write(d);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const cut = () => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    retarget(p) {
      target = p;
    },
    cut,
    stall(ms) {
      stalledUntil = Date.now() + ms;
    },
    async close() {
      cut();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
