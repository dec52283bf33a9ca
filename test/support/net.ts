/**
 * Network helpers of the tests: free ports, probes, a listener that never
 * answers, and a loopback HTTP server for unit tests of a client against a
 * remote API's answers (never a stand-in for a program of the stack).
 */
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';

/** A port of 127.0.0.1 nothing listens on (free when this resolved). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** Resolves true when something accepts TCP connections on the port of 127.0.0.1. */
export const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** A listener on 127.0.0.1 that accepts connections, reads everything and never answers. */
export async function hungListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((s) => {
    connections += 1;
    sockets.add(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A started {@link loopbackHttp} server. */
export interface LoopbackHttp {
  server: HttpServer;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  /** Drops kept-alive connections and closes the server. */
  close: () => Promise<void>;
}

/** Starts an HTTP server on a free port of 127.0.0.1 answering with `handler`. */
export async function loopbackHttp(handler: RequestListener): Promise<LoopbackHttp> {
  const server = createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
