export { waitFor } from '@cdn-sched/local-processes';

/**
 * Number of active handles that matter for leak checks (sockets, timers, servers, child processes),
 * from `process.getActiveResourcesInfo()`.
 */
export function activeHandleCount(kinds: readonly string[] = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'ProcessWrap', 'PipeWrap']): number {
  return process.getActiveResourcesInfo().filter((r) => kinds.includes(r)).length;
}
