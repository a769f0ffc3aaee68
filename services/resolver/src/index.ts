export * from './decision/index.js';
export { createResolveCore } from './serving/resolve-core.js';
export type { Decided, ResolveCore, ResolveCoreOptions, ResolveInput } from './serving/resolve-core.js';
export { createResolverService, createResolverServiceDefinition, resolverServiceDefinition } from './serving/resolver-service.js';
export type { ResolverServiceOptions } from './serving/resolver-service.js';
export { createRoutingState } from './serving/routing-state.js';
export type { RoutingState, RoutingStateOptions } from './serving/routing-state.js';
export { toResolveResponse } from './serving/to-response.js';
export { createBatchWriter, decodeResolveStreamRequest, encodeDecision, encodeResponseFields } from './serving/wire-codec.js';
