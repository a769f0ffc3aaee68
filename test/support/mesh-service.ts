// The mesh's services are started by @cdn-sched/local-mesh (shared with `cdnctl mesh`).
export { createMeshService, probeStatus } from '@cdn-sched/local-mesh';
export type { MeshService, MeshServiceOptions, RestartFigures, ServiceKind, StopSignal } from '@cdn-sched/local-mesh';
