import { BinaryReader, type WireType } from '@bufbuild/protobuf/wire';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as an OTLP export carried it. Ids are lower-case hex, as in W3C trace context. */
export interface ReceivedSpan {
  /** `service.name` of the resource that exported it. */
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string; attributes: Record<string, string | number | boolean> }[];
}

/** An OTLP/HTTP traces endpoint in the test process. */
export interface OtlpReceiver {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** Exports that could not be decoded (must stay empty). */
  readonly errors: readonly string[];
  close(): Promise<void>;
}

// Field numbers from opentelemetry-proto (opentelemetry/proto/collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto), OTLP 1.x.
type Value = string | number | boolean;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Reads the fields of a message ending at `end`, calling `on` per field; unknown ones are skipped by `on` returning false. */
function fields(reader: BinaryReader, end: number, on: (field: number, wireType: WireType) => boolean): void {
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (!on(field, wireType)) reader.skip(wireType, field);
  }
}

function anyValue(reader: BinaryReader, end: number): Value {
  let value: Value = '';
  fields(reader, end, (field) => {
    if (field === 1) value = reader.string();
    else if (field === 2) value = reader.bool();
    else if (field === 3) value = Number(reader.int64());
    else if (field === 4) value = reader.double();
    else return false;
    return true;
  });
  return value;
}

function keyValue(reader: BinaryReader, end: number, into: Record<string, Value>): void {
  let key = '';
  let value: Value = '';
  fields(reader, end, (field) => {
    if (field === 1) key = reader.string();
    else if (field === 2) {
      const len = reader.uint32();
      value = anyValue(reader, reader.pos + len);
    } else return false;
    return true;
  });
  into[key] = value;
}

const sub = (reader: BinaryReader): number => {
  const len = reader.uint32();
  return reader.pos + len;
};

function link(reader: BinaryReader, end: number): ReceivedSpan['links'][number] {
  const l: ReceivedSpan['links'][number] = { traceId: '', spanId: '', attributes: {} };
  fields(reader, end, (field) => {
    if (field === 1) l.traceId = hex(reader.bytes());
    else if (field === 2) l.spanId = hex(reader.bytes());
    else if (field === 4) keyValue(reader, sub(reader), l.attributes);
    else return false;
    return true;
  });
  return l;
}

function span(reader: BinaryReader, end: number, service: string): ReceivedSpan {
  const s: ReceivedSpan = { service, traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, attributes: {}, links: [] };
  fields(reader, end, (field) => {
    if (field === 1) s.traceId = hex(reader.bytes());
    else if (field === 2) s.spanId = hex(reader.bytes());
    else if (field === 4) s.parentSpanId = hex(reader.bytes());
    else if (field === 5) s.name = reader.string();
    else if (field === 6) s.kind = reader.int32();
    else if (field === 9) keyValue(reader, sub(reader), s.attributes);
    else if (field === 13) s.links.push(link(reader, sub(reader)));
    else return false;
    return true;
  });
  return s;
}

/** Decodes an ExportTraceServiceRequest (protobuf) into spans. */
export function decodeTraceExport(body: Uint8Array): ReceivedSpan[] {
  const reader = new BinaryReader(body);
  const out: ReceivedSpan[] = [];
  fields(reader, reader.len, (field) => {
    if (field !== 1) return false;
    // ResourceSpans: resource = 1 (Resource.attributes = 1), scope_spans = 2 (ScopeSpans.spans = 2).
    const end = sub(reader);
    const resource: Record<string, Value> = {};
    const pending: [number, number][] = [];
    fields(reader, end, (f) => {
      if (f === 1) {
        fields(reader, sub(reader), (rf) => {
          if (rf !== 1) return false;
          keyValue(reader, sub(reader), resource);
          return true;
        });
      } else if (f === 2) {
        const scopeEnd = sub(reader);
        fields(reader, scopeEnd, (sf) => {
          if (sf !== 2) return false;
          const spanEnd = sub(reader);
          pending.push([reader.pos, spanEnd]);
          reader.pos = spanEnd;
          return true;
        });
      } else return false;
      return true;
    });
    // Spans are read after the resource, whatever the field order.
    const after = reader.pos;
    for (const [start, spanEnd] of pending) {
      reader.pos = start;
      out.push(span(reader, spanEnd, String(resource['service.name'] ?? '')));
    }
    reader.pos = after;
    return true;
  });
  return out;
}

/**
 * Starts an OTLP/HTTP receiver on a loopback port: accepts `POST /v1/traces` with the protobuf
 * encoding (what `@opentelemetry/exporter-trace-otlp-proto` sends) and answers with an empty
 * ExportTraceServiceResponse (full success).
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        errors.push(`unexpected ${req.method} ${req.url} ${req.headers['content-type']}`);
        res.writeHead(404).end();
        return;
      }
      try {
        spans.push(...decodeTraceExport(Buffer.concat(chunks)));
      } catch (error) {
        errors.push(`undecodable export: ${(error as Error).message}`);
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    errors,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
