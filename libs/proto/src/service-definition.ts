import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { MethodDefinition } from 'nice-grpc';

type MethodKind = 'unary' | 'server_streaming' | 'client_streaming' | 'bidi_streaming';
type RequestStreams<K extends MethodKind> = K extends 'client_streaming' | 'bidi_streaming' ? true : false;
type ResponseStreams<K extends MethodKind> = K extends 'server_streaming' | 'bidi_streaming' ? true : false;

/**
 * The nice-grpc definition of one method: callers may pass init objects (plain objects that
 * `create()` accepts); receivers get full protobuf-es messages.
 */
export type NiceMethodDefinition<I extends DescMessage, O extends DescMessage, K extends MethodKind> =
  MethodDefinition<
    MessageInitShape<I>,
    MessageShape<I>,
    MessageInitShape<O>,
    MessageShape<O>,
    RequestStreams<K>,
    ResponseStreams<K>
  >;

/** The nice-grpc service definition derived from a protobuf-es service descriptor. */
export type NiceServiceDefinition<T extends GenServiceMethods> = {
  [M in keyof T]: T[M] extends { input: infer I extends DescMessage; output: infer O extends DescMessage; methodKind: infer K extends MethodKind }
    ? NiceMethodDefinition<I, O, K>
    : never;
};

/** Messages that will not change again, whose encoding may be shared (see {@link shareEncoding}). */
const shared = new WeakMap<object, Uint8Array | null>();

/**
 * Marks `message` as immutable so that sending it on many streams encodes it once: a config
 * snapshot fanned out to every consumer is the same object each time. Only call it on a message
 * nobody mutates afterwards.
 */
export function shareEncoding<T extends object>(message: T): T {
  if (!shared.has(message)) shared.set(message, null);
  return message;
}

function serializer<D extends DescMessage>(schema: D): (value: MessageInitShape<D>) => Uint8Array {
  // create() returns its argument untouched when it is already a message of this type, so
  // handlers that build messages themselves pay nothing extra.
  return (value) => {
    const cached = shared.get(value as object);
    if (cached) return cached;
    const bytes = toBinary(schema, create(schema, value));
    if (cached === null) shared.set(value as object, bytes);
    return bytes;
  };
}

function deserializer<D extends DescMessage>(schema: D): (bytes: Uint8Array) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}

/**
 * Turns a protobuf-es service descriptor into a nice-grpc service definition, so servers and
 * clients are fully typed from the generated code. The method path is the gRPC wire path
 * `/<package>.<Service>/<Method>` (gRPC over HTTP/2, "Path" in PROTOCOL-HTTP2.md).
 */
export function createServiceDefinition<T extends GenServiceMethods>(service: GenService<T>): NiceServiceDefinition<T> {
  const desc = service as unknown as DescService;
  const definition: Record<string, MethodDefinition<unknown, unknown, unknown, unknown>> = {};
  for (const method of desc.methods) {
    definition[method.localName] = {
      path: `/${desc.typeName}/${method.name}`,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input) as (value: unknown) => Uint8Array,
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output) as (value: unknown) => Uint8Array,
      responseDeserialize: deserializer(method.output),
      options: {},
    };
  }
  return definition as NiceServiceDefinition<T>;
}
