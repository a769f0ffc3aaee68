export { ConfigError, formatHelp, parseConfig } from './config.js';
export type { ConfigOf, ConfigType, SettingSpec } from './config.js';
export { startServiceServer } from './grpc-server.js';
export type { ServiceServer, ServiceServerOptions } from './grpc-server.js';
export { createShutdown } from './shutdown.js';
export type { Shutdown, ShutdownOptions } from './shutdown.js';
export { runService } from './run-service.js';
export type { ServiceContext, ServiceMain } from './run-service.js';
export { configWatcherSetting, etcdSettings, grpcSettings } from './common-settings.js';
