import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * CPU pinning for the echo phases: the server on the last CPU, its load generator on the
 * first. On a 2-core machine the two would otherwise preempt each other (and each other's
 * GC and libuv threads), and how often depends on how heavy the client is, so the server's
 * CPU per echo would carry some of the client's cost. Pinned, each has a core to itself.
 * Uses taskset(1) (util-linux) on every thread of the process; without it, or with one CPU,
 * nothing is pinned and the result says so.
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

const all = `0-${availableParallelism() - 1}`;

/** The CPUs echo phases pin to, or undefined when this machine cannot pin. */
export const ECHO_PINNING: Pinning | undefined = canPin()
  ? { server: String(availableParallelism() - 1), load: '0' }
  : undefined;

/** Sets the CPUs of every thread of `pid` (threads it starts later inherit them). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Lets every thread of `pid` run on any CPU again. */
export function unpin(pid: number): void {
  pin(pid, all);
}
