export { createLocalMesh } from './local-mesh.js';
export type { LocalMesh, LocalMeshOptions, LocalMeshProgress, MeshServicePorts } from './local-mesh.js';
export { createMeshService, probeStatus } from './mesh-service.js';
export type { MeshService, MeshServiceOptions, RestartFigures, ServiceKind, StopSignal } from './mesh-service.js';
export { nodeDocument } from './mesh-topology.js';
export type { DomainDoc, EdgeSpec, ProbeSettings } from './mesh-topology.js';
export { startMeshDnsGateway } from './dns-gateway-process.js';
export type { MeshDnsGateway, MeshDnsGatewayOptions } from './dns-gateway-process.js';
