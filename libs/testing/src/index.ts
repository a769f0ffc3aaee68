export { getFreePort } from './free-port.js';
export { findEtcdBinary, startEtcd } from './etcd-process.js';
export type { EtcdOptions, EtcdProcess } from './etcd-process.js';
export { startGrpcServer } from './grpc-server.js';
export type { TestGrpcServer } from './grpc-server.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { ProxyMode, TcpProxy, TcpProxyOptions } from './tcp-proxy.js';
export { activeHandleCount, waitFor } from './wait.js';
