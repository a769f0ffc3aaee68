/** SIGKILLs `pid` if it is still there: the last resort of a teardown, where a process already gone is fine. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Whether process `pid` exists: signal 0 checks without sending anything (kill(2)); EPERM means it
 * exists under another user, only ESRCH means it is gone.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
