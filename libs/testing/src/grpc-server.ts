import { createServer, type Server } from 'nice-grpc';

/** A gRPC server on a loopback port chosen by the kernel. */
export interface TestGrpcServer {
  readonly server: Server;
  readonly port: number;
  /** `127.0.0.1:<port>`, as nice-grpc's createChannel takes it. */
  readonly address: string;
  /**
   * Stops accepting, waits for open calls to end (up to `graceMs`, default 2 s), then forces the
   * rest closed. Resolves when every connection is gone.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts a nice-grpc server on 127.0.0.1:0 after `register` has added its services. The teardown
 * waits for connections to close, so a test that ends leaves no socket behind.
 */
export async function startGrpcServer(register: (server: Server) => void): Promise<TestGrpcServer> {
  const server = createServer();
  register(server);
  const port = await server.listen('127.0.0.1:0');
  let closed: Promise<void> | undefined;
  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    close(graceMs = 2000) {
      closed ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const forced = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, graceMs);
        });
        await Promise.race([server.shutdown(), forced]);
        clearTimeout(timer);
      })();
      return closed;
    },
  };
}
