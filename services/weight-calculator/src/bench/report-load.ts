/**
 * The ReportProbes load of the ingest benchmark, shared by the in-process client and the client
 * process (report-client.ts): what a prober's reporter sends — batches of 500 results, at most eight
 * unacknowledged — over a fleet of `ids`, each pass over the fleet one millisecond later than the
 * last (the table rejects results that are not newer than the last of their (node, prober)).
 */
import { create } from '@bufbuild/protobuf';
import { ProbeErrorClass, ProbeResultSchema, ReportProbesRequestSchema, serviceDefinitions, type ProbeResult, type ReportProbesRequest } from '@cdn-sched/proto';
import { decodeReportProbesRequest } from '../report-codec.js';
import type { Client } from 'nice-grpc';

/** Results per ReportProbes batch (the prober reporter's `maxBatch`). */
export const BATCH = 500;
/** Unacknowledged batches per stream (the prober reporter's `maxInFlightBatches`). */
export const IN_FLIGHT = 8;

/** Node ids `edge-0` … `edge-<n-1>`, as the benchmark's config serves them. */
export const ingestNodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `edge-${i}`);

/** Time spent in protobuf work on each side of the ReportProbes stream, milliseconds. */
export const protobufMs = { clientBuild: 0, clientEncode: 0, serverDecode: 0 };

export function resetProtobufMs(): void {
  protobufMs.clientBuild = protobufMs.clientEncode = protobufMs.serverDecode = 0;
}

const timed =
  <A, R>(fn: (a: A) => R, field: keyof typeof protobufMs): ((a: A) => R) =>
  (a) => {
    const t0 = performance.now();
    try {
      return fn(a);
    } finally {
      protobufMs[field] += performance.now() - t0;
    }
  };

const definition = serviceDefinitions.weightCalculator;

/** The WeightCalculatorService definition with ReportProbes' request (de)serialisation timed. */
export const timedDefinition: typeof definition = {
  ...definition,
  reportProbes: {
    ...definition.reportProbes,
    requestSerialize: timed(definition.reportProbes.requestSerialize, 'clientEncode'),
    // The server decodes at wire level, as the service does (report-codec.ts).
    requestDeserialize: timed(decodeReportProbesRequest, 'serverDecode'),
  },
};

/** Sends one prober's results until `deadline` (performance.now() time); returns the acks' counts. */
export async function reportUntil(
  client: Client<typeof definition>,
  proberId: string,
  ids: readonly string[],
  deadline: number,
  startedAtBaseMs: number,
): Promise<{ accepted: number; rejected: number }> {
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let pass = 0;
  let offset = 0;
  let seq = 0n;
  async function* batches(): AsyncGenerator<ReportProbesRequest> {
    while (performance.now() < deadline) {
      if (inFlight >= IN_FLIGHT) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const t0 = performance.now();
      const startedAtMs = BigInt(startedAtBaseMs + pass);
      const results: ProbeResult[] = new Array<ProbeResult>(BATCH);
      for (let i = 0; i < BATCH; i++) {
        results[i] = create(ProbeResultSchema, {
          nodeId: ids[(offset + i) % ids.length],
          ok: true,
          errorClass: ProbeErrorClass.UNSPECIFIED,
          ttfbMs: 20,
          totalMs: 25 + (i % 50),
          statusCode: 200,
          load: -1,
          startedAtMs,
        });
      }
      protobufMs.clientBuild += performance.now() - t0;
      offset += BATCH;
      if (offset >= ids.length) {
        offset = 0;
        pass++;
      }
      inFlight++;
      yield create(ReportProbesRequestSchema, { proberId, seq: ++seq, results });
    }
  }
  let accepted = 0;
  let rejected = 0;
  for await (const ack of client.reportProbes(batches())) {
    accepted += ack.accepted;
    rejected += ack.rejected;
    inFlight--;
    wake?.();
  }
  return { accepted, rejected };
}
