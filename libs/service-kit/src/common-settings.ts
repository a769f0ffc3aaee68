import type { SettingSpec } from './config.js';
import { etcdConnectionSettings } from './etcd-connection.js';
import { transportSettings } from './transport-settings.js';

/**
 * etcd connection (members, TLS, user; see `resolveEtcdConnection`) and key prefix, as every
 * service that talks to etcd reads them.
 */
export const etcdSettings = {
  ...etcdConnectionSettings,
  prefix: { type: 'string', env: 'CDN_PREFIX', flag: 'prefix', default: '/cdn/', description: 'etcd key prefix of the documents' },
} as const satisfies Record<string, SettingSpec>;

/** The gRPC listen address of a service, with its default port, and its transport (TLS, limits). */
export function grpcSettings(defaultPort: number) {
  return {
    grpcHost: { type: 'string', env: 'GRPC_HOST', flag: 'grpc-host', default: '127.0.0.1', description: 'gRPC listen address' },
    grpcPort: { type: 'int', env: 'GRPC_PORT', flag: 'grpc-port', default: defaultPort, min: 0, max: 65535, description: 'gRPC port (0 = any)' },
    ...transportSettings,
  } as const satisfies Record<string, SettingSpec>;
}

/** Where the config-watcher is, for its consumers. */
export const configWatcherSetting = {
  configWatcher: { type: 'string', env: 'CONFIG_WATCHER', flag: 'config-watcher', default: '127.0.0.1:50051', description: 'config-watcher gRPC address' },
} as const satisfies Record<string, SettingSpec>;
