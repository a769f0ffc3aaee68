export { getFreePort } from './free-port.js';
export { findEtcdBinary, startEtcd } from './etcd-process.js';
export type { EtcdOptions, EtcdProcess } from './etcd-process.js';
export { createFakeFleet } from './fake-fleet.js';
export type { FakeFleet, FakeFleetOptions, FakeHealth, FakeNode, LoadReporting } from './fake-fleet.js';
export { repoRoot, startServiceProcess } from './service-process.js';
export type { ServiceProcess, ServiceProcessOptions } from './service-process.js';
export { waitFor } from './wait-for.js';
export { killQuietly } from './kill-quietly.js';
