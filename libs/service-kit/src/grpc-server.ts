import type { DescFile } from '@bufbuild/protobuf';
import { createFileDescriptorSet } from '@cdn-sched/proto';
import { plaintextTransport, type Transport } from '@cdn-sched/transport';
import { createServer, type Server } from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import { createDirectStreamInterceptor, type DirectStreamMethod } from './direct-stream.js';
import { createDirectUnaryInterceptor, type DirectUnaryMethod } from './direct-unary.js';

/** Options of {@link startServiceServer}. */
export interface ServiceServerOptions {
  /** Address to bind. Defaults to 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Adds the service's own implementations. */
  register(server: Server): void;
  /** Proto files of the services registered, for server reflection. */
  reflection: readonly DescFile[];
  /** Fully qualified names of the services registered ("cdn.sched.v1.ResolverService"). */
  serviceNames: readonly string[];
  /** grpc-js channel options of the server, over the transport's. */
  channelOptions?: Record<string, number | string>;
  /** Credentials and limits (mutual TLS, message sizes, connection age). Defaults to plaintext with default limits. */
  transport?: Transport;
  /**
   * Unary methods of the registered services answered directly, without their nice-grpc handler
   * (see {@link createDirectUnaryInterceptor}), after the transport's peer-identity check.
   */
  directUnary?: readonly DirectUnaryMethod<never, unknown>[];
  /**
   * Bidirectional-streaming methods answered directly, message by message (see
   * {@link createDirectStreamInterceptor}), after the transport's peer-identity check.
   */
  directStream?: readonly DirectStreamMethod<never, unknown>[];
  /** Told about a plaintext listen address reachable from other hosts. */
  onInsecureBind?(warning: string): void;
}

/** A running gRPC server with health and reflection. */
export interface ServiceServer {
  readonly server: Server;
  readonly port: number;
  readonly address: string;
  /** Sets `grpc.health.v1` status of the whole server and of each named service. */
  setServing(serving: boolean): void;
  /** Stops accepting, lets open calls finish for up to `graceMs` (default 5 s), then forces. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts a service's gRPC server with the standard `grpc.health.v1.Health` service (NOT_SERVING until
 * `setServing(true)`) and `grpc.reflection.v1.ServerReflection`, so `grpcurl` and load balancers work
 * against every service the same way.
 */
export async function startServiceServer(options: ServiceServerOptions): Promise<ServiceServer> {
  const transport = options.transport ?? plaintextTransport();
  const host = options.host ?? '127.0.0.1';
  // Throws with --require-tls; a warning otherwise (plaintext is the default only on loopback).
  const warning = transport.checkBind(host);
  if (warning) (options.onInsecureBind ?? ((w: string) => process.emitWarning(w)))(warning);
  // nice-grpc types its options as channel options; grpc-js's server takes `interceptors` there too.
  // grpc-js wraps a call with each interceptor in turn, so the direct methods (last) see only what
  // the transport's (first) let through.
  const interceptors = [
    ...transport.serverOptions.interceptors,
    ...(options.directUnary ?? []).map((m) => createDirectUnaryInterceptor(m)),
    ...(options.directStream ?? []).map((m) => createDirectStreamInterceptor(m)),
  ];
  const server = createServer({ ...transport.serverOptions, ...options.channelOptions, interceptors } as Parameters<typeof createServer>[0]);
  const health = HealthState();
  server.add(HealthDefinition, HealthServiceImpl(health));
  server.add(
    ServerReflectionService,
    ServerReflection(createFileDescriptorSet(options.reflection), [...options.serviceNames, 'grpc.health.v1.Health']),
  );
  options.register(server);
  const port = await server.listen(`${host}:${options.port}`, transport.serverCredentials).catch((error: unknown) => {
    // grpc-js says "No address added out of total 1 resolved"; say what it means.
    throw new Error(`gRPC server cannot listen on ${host}:${options.port}: the port is in use or the address is not available here (${(error as Error).message})`, { cause: error });
  });
  const setServing = (serving: boolean): void => {
    const status = serving ? 'healthy' : 'unhealthy';
    health.setStatus(status);
    for (const name of options.serviceNames) health.setStatus(status, name);
  };
  setServing(false);
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    address: `${host}:${port}`,
    setServing,
    close(graceMs = 5000) {
      closing ??= (async () => {
        setServing(false);
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
      return closing;
    },
  };
}
