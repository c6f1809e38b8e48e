/**
 * The environment variable a socketlab parent (the root `pnpm start`) sets for its children:
 * watch me, and stop when I am gone.
 */
export const WATCH_PARENT_ENV = 'SOCKETLAB_WATCH_PARENT';

/**
 * Calls `stop` once when the process that started this one is gone, however it died (SIGKILL
 * included): its children are re-parented (to init or a subreaper), so `process.ppid` changes.
 * No pipe or signal has to survive the parent for this; polling ppid costs one syscall per
 * interval. Active only when a package manager runs this process as a script (`pnpm start`,
 * `pnpm --filter ws-server start`: the script's end is the command's end) or a socketlab
 * parent asked for it; a server a user starts with plain `node` under nohup stays up.
 */
export function onParentGone(stop: () => void, intervalMs = 250): void {
  if (process.env.npm_lifecycle_event === undefined && process.env[WATCH_PARENT_ENV] !== '1') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, intervalMs);
  timer.unref();
}
