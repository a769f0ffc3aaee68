export { createVersionedStore } from './versioned-store.js';
export type { Change, VersionedStore, VersionedStoreOptions } from './versioned-store.js';
export { serveVersionedStream } from './serve-stream.js';
export type { ServeStreamOptions, StreamEncoder } from './serve-stream.js';
export { createStreamConsumer, ProtocolError } from './stream-consumer.js';
export type { ConsumerState, StreamConsumer, StreamConsumerOptions, StreamMessage } from './stream-consumer.js';
