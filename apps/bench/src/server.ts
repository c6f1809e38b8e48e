import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MEMORY_PROBE_PATTERN } from '@socketlab/cli';
import { type ServerProcess, startServerProcess } from '@socketlab/cli/process';
import { type Contender, SERVER_FLAGS } from './contenders.js';

const CPU_PROFILE_PRELOAD = fileURLToPath(new URL('./cpu-profile.mjs', import.meta.url));
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture node runs on

/** A contender's server app in its own process, with the probes the benchmark reads. */
export class BenchServer {
  private probeWaiters: ((line: RegExpExecArray) => void)[] = [];

  private constructor(
    readonly process: ServerProcess,
    private readonly profiling = false,
  ) {
    const lines = createInterface({ input: process.child.stdout! });
    lines.on('line', (line) => {
      const match = MEMORY_PROBE_PATTERN.exec(line);
      if (match) this.probeWaiters.shift()?.(match);
    });
  }

  /**
   * `cpuProfileDir`: the server writes a V8 CPU profile (node --cpu-prof) there when it exits;
   * such a server is always stopped gracefully, as a killed process writes none.
   */
  static async start(
    contender: Contender,
    cpuProfileDir?: string,
    extraArgs: readonly string[] = [],
  ): Promise<BenchServer> {
    // --expose-gc so that the memory probe (SIGUSR2) can collect before it measures.
    const nodeOptions = [globalThis.process.env.NODE_OPTIONS ?? '', '--expose-gc'];
    const env: NodeJS.ProcessEnv = {};
    if (cpuProfileDir) {
      mkdirSync(cpuProfileDir, { recursive: true });
      nodeOptions.push(`--import=${pathToFileURL(CPU_PROFILE_PRELOAD).href}`);
      env.SOCKETLAB_CPU_PROFILE = join(cpuProfileDir, `${contender.name}.${Date.now()}.cpuprofile`);
    }
    env.NODE_OPTIONS = nodeOptions.join(' ').trim();
    const process = await startServerProcess(
      contender.appDir,
      [...SERVER_FLAGS, ...(contender.serverFlags ?? []), ...extraArgs],
      {
        env,
        timeoutMs: 60_000,
      },
    );
    return new BenchServer(process, cpuProfileDir !== undefined);
  }

  get url(): string {
    return this.process.url;
  }
  get pid(): number {
    return this.process.child.pid ?? -1;
  }

  /** The server process's own CPU time so far (user + system, all threads), in microseconds. */
  cpuMicros(): number {
    // Every thread's run time, in ns (zlib and TLS work runs on libuv's pool, not the main
    // thread): /proc/<pid>/stat counts 10 ms ticks, too coarse for a burst of a few tens of ms.
    this.schedstat ??= existsSync(`/proc/${this.pid}/task/${this.pid}/schedstat`);
    if (this.schedstat) {
      let ns = 0;
      for (const task of readdirSync(`/proc/${this.pid}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${this.pid}/task/${task}/schedstat`, 'utf8').split(' ', 1)[0]);
        } catch {} // a thread that ended between the listing and the read
      }
      return ns / 1000;
    }
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  }

  /** Whether the kernel keeps per-thread run times (CONFIG_SCHED_INFO); decided once. */
  private schedstat: boolean | undefined;

  /** Full GC in the server (SIGUSR2 memory probe), then its resident set size in bytes. */
  async rssAfterGc(timeoutMs = 30_000): Promise<number> {
    return (await this.memoryAfterGc(timeoutMs)).rss;
  }

  /** Full GC in the server (SIGUSR2 memory probe), then its resident set and live JS heap in bytes. */
  async memoryAfterGc(timeoutMs = 30_000): Promise<{ rss: number; heapUsed: number }> {
    const line = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.process.name}: no memory probe answer within ${timeoutMs} ms (exit code ${this.process.child.exitCode}, signal ${this.process.child.signalCode})\n${this.process.stderr()}`,
            ),
          ),
        timeoutMs,
      );
      this.probeWaiters.push((match) => {
        clearTimeout(timer);
        resolve(match);
      });
      this.process.child.kill('SIGUSR2');
    });
    if (line[3] !== 'true') throw new Error(`${this.process.name}: --expose-gc did not reach the server`);
    return { rss: Number(line[1]), heapUsed: Number(line[2]) };
  }

  /** Graceful stop (SIGTERM); SIGKILL when `quick` (thousands of clients would each get a leave storm). */
  async stop(quick = false): Promise<void> {
    await this.process.stop(quick && !this.profiling ? 'SIGKILL' : 'SIGTERM');
  }
}
