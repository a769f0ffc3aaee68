import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host` by binding to port 0 and releasing it. For processes
 * (like etcd) that must be told their port up front; our own servers bind to port 0 directly.
 */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
