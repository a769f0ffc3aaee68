/** SIGKILLs `pid` if it is still there: the last resort of a teardown, where a process already gone is fine. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
