import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Ties `child` to this process's life, for programs that cannot watch their own stdin (etcd, a Go
 * binary; our services stop themselves on stdin end-of-file instead, `EXIT_WITH_STDIN`). A watchdog
 * shell blocks reading a pipe from this process and SIGKILLs the child when the read ends: when
 * this process ends, however it ends (a test runner's timeout, SIGKILL), the kernel closes the pipe.
 * Neither the watchdog nor its pipe keeps this process's event loop alive. The watchdog goes away
 * by itself (SIGKILLed, so it never reaches its `kill`) when the child exits; the returned function
 * does the same earlier.
 */
export function killWithParent(child: ChildProcess): () => void {
  const pid = child.pid;
  if (pid === undefined) return () => undefined;
  const watchdog = spawn('/bin/sh', ['-c', `read _; kill -KILL ${pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.on('error', () => undefined);
  watchdog.stdin?.on('error', () => undefined);
  watchdog.unref();
  (watchdog.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    // The watchdog first: closing its pipe while it lives would make it kill `pid`, by then
    // perhaps another process's.
    watchdog.kill('SIGKILL');
    watchdog.stdin?.destroy();
  };
  child.once('exit', release);
  return release;
}
