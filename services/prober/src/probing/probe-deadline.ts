/** A probe's deadline; {@link clear} once the probe settled. */
export interface ProbeDeadline {
  clear(): void;
}

/**
 * Calls `expire` when a probe's `ms` have passed, but only after the I/O the event loop already
 * has waiting. Node runs due timers before it polls sockets (timers, then poll, then check phase),
 * so when the prober's own loop was held up past a deadline (GC, a burst of results), an answer
 * that reached the socket in time would otherwise lose to its own timeout, and a prober that
 * stalled for a second would report every edge it probes as timed out. The expiry is deferred to
 * the check phase (`setImmediate`), which runs after the poll phase has delivered waiting answers.
 */
export function setProbeDeadline(expire: () => void, ms: number): ProbeDeadline {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(expire);
  }, ms);
  return {
    clear() {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
  };
}
