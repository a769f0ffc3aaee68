import { createServer } from 'node:net';

// Ports below Linux's default ephemeral range (32768-60999, /proc/sys/net/ipv4/ip_local_port_range):
// a port handed out here cannot be taken, between our check and the child's bind, by the kernel
// giving it to some outgoing connection as its local port — which does happen on a busy machine.
const LOW = 20_000;
const HIGH = 32_000;

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port that is free on `host` now, for processes (like etcd) that must be told their port up
 * front; our own servers bind to port 0 directly. Random in 20000-32000, so that two test runs do not
 * collide, and outside the ephemeral range; falls back to a kernel-chosen port.
 */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(LOW + Math.floor(Math.random() * (HIGH - LOW)), host);
    if (port !== undefined) return port;
  }
  const port = await tryListen(0, host);
  if (port === undefined) throw new Error(`no free TCP port on ${host}`);
  return port;
}
