/**
 * Limits of every gRPC server and client of the mesh. The defaults are what a service runs with when
 * nothing is set; each has a setting (see service-kit's `transportSettings`).
 */
export interface GrpcLimits {
  /** Largest message a peer may send us, bytes. Defaults to 4 MiB (grpc's own default). */
  maxReceiveMessageBytes: number;
  /** Largest message we send, bytes. Defaults to 4 MiB; snapshots are chunked well below it. */
  maxSendMessageBytes: number;
  /** Concurrent streams (calls) per HTTP/2 connection, server side. Defaults to 1,000. */
  maxConcurrentStreams: number;
  /**
   * A server connection older than this is sent GOAWAY (with ±10 % jitter, by grpc-js) so that
   * clients re-resolve and spread over replicas added since, milliseconds. Defaults to 5 minutes.
   */
  maxConnectionAgeMs: number;
  /**
   * After GOAWAY, calls still open on the old connection get this long before it is closed,
   * milliseconds. Long-lived streams then reconnect (the versioned streams resume with a delta).
   * Defaults to 30 seconds.
   */
  maxConnectionAgeGraceMs: number;
  /** Keepalive ping period on idle connections (both sides), milliseconds. Defaults to 20 seconds. */
  keepaliveTimeMs: number;
  /** A ping unanswered this long closes the connection, milliseconds. Defaults to 5 seconds. */
  keepaliveTimeoutMs: number;
}

export const defaultGrpcLimits: Readonly<GrpcLimits> = Object.freeze({
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  maxSendMessageBytes: 4 * 1024 * 1024,
  maxConcurrentStreams: 1000,
  maxConnectionAgeMs: 300_000,
  maxConnectionAgeGraceMs: 30_000,
  keepaliveTimeMs: 20_000,
  keepaliveTimeoutMs: 5_000,
});

/** grpc-js server options for `limits`. */
export function serverChannelOptions(limits: GrpcLimits): Record<string, number> {
  return {
    'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
    'grpc.max_send_message_length': limits.maxSendMessageBytes,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
    // The server pings idle clients to find dead connections (a vanished client would otherwise
    // hold its streams, and their per-stream state, forever).
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    // grpc-js servers have no ping-strike enforcement (grpc core's min_recv_ping_interval and
    // GOAWAY "too_many_pings"); a client's ping flood is bounded by nghttp2's own flood protection.
  };
}

/** grpc-js channel options for `limits`, plus round-robin balancing over every resolved address. */
export function clientChannelOptions(limits: GrpcLimits): Record<string, number | string> {
  return {
    'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
    'grpc.max_send_message_length': limits.maxSendMessageBytes,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    // A `dns:///name:port` target (a headless Kubernetes Service) resolves to every replica; with
    // round_robin each call goes to the next ready one, so new streams spread over all of them.
    // The DNS name is resolved again whenever a connection ends (a server's max_connection_age
    // GOAWAY among them), which is how replicas added later are found.
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    'grpc.dns_min_time_between_resolutions_ms': 1_000,
    // The balancing policy is ours: a TXT record in DNS (gRPC's _grpc_config) must not change it.
    'grpc.service_config_disable_resolution': 1,
  };
}
