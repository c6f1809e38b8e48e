import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * CPU pinning for the phases that measure server CPU per message (echo, TLS echo, broadcast): the server
 * on the last CPU, the load generators on the others. On a 2-core machine the two would
 * otherwise preempt each other (and each other's GC and libuv threads), and how often depends
 * on how heavy the client is (clients inflating compressed broadcasts keep libuv's pool busy on
 * both cores), so the server's CPU would carry some of the client's cost. Pinned, the server
 * has a core to itself. Uses taskset(1) (util-linux) on every thread of the process; without
 * it, or with one CPU, nothing is pinned and the result says so.
 */
export interface Pinning {
  server: string;
  load: string;
}

function canPin(): boolean {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const cpus = availableParallelism();
const all = `0-${cpus - 1}`;

/** The CPUs the echo, TLS echo and broadcast phases pin to, or undefined when this machine cannot pin. */
export const CPU_PINNING: Pinning | undefined = canPin()
  ? { server: String(cpus - 1), load: cpus === 2 ? '0' : `0-${cpus - 2}` }
  : undefined;

/** Sets the CPUs of every thread of `pid` (threads it starts later inherit them). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Lets every thread of `pid` run on any CPU again. */
export function unpin(pid: number): void {
  pin(pid, all);
}

/**
 * For a phase that measures server CPU: the server on its CPU, the load generators on the
 * others. Returns what lets the load generators go again (the server is stopped anyway);
 * nothing happens where this machine cannot pin.
 */
export function pinPhase(serverPid: number, loadPids: readonly number[]): () => void {
  if (!CPU_PINNING) return () => {};
  pin(serverPid, CPU_PINNING.server);
  for (const pid of loadPids) pin(pid, CPU_PINNING.load);
  return () => {
    for (const pid of loadPids) unpin(pid);
  };
}
