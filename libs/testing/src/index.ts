// The process launchers (etcd, services, fake fleet) live in @cdn-sched/local-processes, which the
// operator CLI ships; tests keep importing them from here.
export { createFakeFleet, findEtcdBinary, getFreePort, isProcessAlive, killQuietly, repoRoot, serviceNodeOptions, startEtcd, startFleetProcess, startServiceProcess } from '@cdn-sched/local-processes';
export type { EtcdOptions, EtcdProcess, FakeFleet, FakeFleetOptions, FakeHealth, FakeNode, FleetProcess, FleetProcessOptions, LoadReporting, ServiceProcess, ServiceProcessOptions } from '@cdn-sched/local-processes';
export { startGrpcServer } from './grpc-server.js';
export type { TestGrpcServer } from './grpc-server.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { ProxyMode, TcpProxy, TcpProxyOptions } from './tcp-proxy.js';
export { activeHandleCount, waitFor } from './wait.js';
export { startEtcdCluster } from './etcd-cluster.js';
export type { EtcdCluster, EtcdClusterOptions, EtcdClusterTls, EtcdMember, EtcdMemberHost } from './etcd-cluster.js';
export { createTestPki } from './test-pki.js';
export type { TestCert, TestPki, TestSan } from './test-pki.js';
export { ALL_FAULTS, createSeededRandom, fuzzFrame, pickFaults } from './wire-fuzz.js';
export { createSeededU32, createSeededUniform } from './seeded-uniform.js';
export type { Fault, FuzzFieldKind, FuzzSchema } from './wire-fuzz.js';
export { processTree, processTreeCpuSeconds } from './process-cpu.js';
export { cpuQuotaSupport, limitCpu, servingProcesses } from './cpu-quota.js';
export type { CpuQuota } from './cpu-quota.js';
export { Scrape, scrape } from './prometheus-text.js';
export type { LabelMatch, Sample } from './prometheus-text.js';
