export { createConfigWatcher } from './config-watcher.js';
export type { ConfigWatcher, ConfigWatcherOptions } from './config-watcher.js';
export { createConfigState } from './config-state.js';
export type { ConfigState, ConfigStateOptions } from './config-state.js';
export { createWatchLatencyProbe } from './watch-latency.js';
export type { WatchLatencyProbe, WatchLatencyProbeOptions } from './watch-latency.js';
