/**
 * `pnpm bench`: every contender's server app in its own process, the load generator in
 * others; contenders alternate within each round (A B C ... A B C ...) and every figure
 * is the median over the rounds, with min and max, so machine drift cancels.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchConfig, DEFAULT_OUT, parseConfig, USAGE } from './config.js';
import { BASELINE, CONTENDERS, isAvailable } from './contenders.js';
import { LoadPool } from './load/pool.js';
import { measureRound } from './measure.js';
import { metricsFor } from './metrics.js';
import { CPU_PINNING } from './pin.js';
import {
  type BenchResult,
  type ContenderResult,
  checkGoals,
  machine,
  type SoakReport,
  summarizeAll,
  terminalTable,
  updateReadme,
  writeResults,
  writeSoak,
} from './report.js';
import { runSoak } from './soak.js';

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
/** The READMEs whose results table a run replaces, and where their charts are from each. */
const README_TABLES: [string, string][] = [
  [join(benchDir, 'README.md'), 'results/'],
  [join(benchDir, '..', '..', 'README.md'), 'apps/bench/results/'],
];

function progress(text: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${elapsed} s] ${text}\n`);
}

/** Open files a process may have, from /proc/<pid>/limits (the soft limit). */
function openFileLimit(pid: number | 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === 'unlimited' || soft === undefined ? Number.POSITIVE_INFINITY : Number(soft);
}

/**
 * Node raises its soft open-file limit to the hard limit at start-up; if even that is too
 * low for the client count, say so before any server starts.
 */
function checkOpenFiles(config: BenchConfig, pool: LoadPool): void {
  const clients = config.soak ? config.soakClients : Math.max(config.idleClients, config.broadcastClients);
  // An idle client holds one socket (socket.io long-polling: its pending poll; the socket of
  // its last send closes after 4 s idle, so only the most recent few hundred add a second).
  const perLoadProcess = Math.ceil((clients * 1.1) / pool.processes.length) + 256;
  const forServer = Math.ceil(clients * 1.1) + 256;
  for (const load of pool.processes) {
    const limit = openFileLimit(load.pid);
    if (limit < perLoadProcess) {
      throw new Error(
        `load process ${load.index} may open ${limit} files but needs about ${perLoadProcess}: raise the hard limit (ulimit -Hn ${forServer}) or use more --load-processes`,
      );
    }
  }
  const own = openFileLimit('self');
  if (own < forServer) {
    throw new Error(
      `the server processes may open ${own} files but need about ${forServer}: raise it (ulimit -n ${forServer})`,
    );
  }
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const config = parsed;
  const selected = CONTENDERS.filter((c) => config.contenders.includes(c.name));
  const results: ContenderResult[] = selected.map((c) => ({
    name: c.name,
    description: c.description,
    available: isAvailable(c),
    rounds: [],
    summary: {},
  }));
  const runnable = selected.filter(isAvailable);
  for (const c of selected.filter((c) => !isAvailable(c))) progress(`${c.name}: not available (no ${c.appDir})`);
  if (runnable.length === 0) throw new Error('no contender is available');
  progress(
    config.soak
      ? `soak mode: ${config.soakClients} clients for ${config.soakMs / 1000} s each, contenders ${runnable.map((c) => c.name).join(', ')}`
      : `${config.mode} mode: ${config.rounds} round(s) of ${runnable.map((c) => c.name).join(', ')}; echo ${config.echoConnections} connections for ${config.echoMs} ms, broadcast ${config.broadcastClients} clients, ${config.connectClients} connections timed, ${config.idleClients} idle connections${config.memoryRounds < config.rounds ? ` (in the first ${config.memoryRounds} round(s))` : ''}${config.mode === 'quick' ? ' (quick counts; --full for 1,000 / 5,000 / 10,000)' : ''}`,
  );

  const pool = new LoadPool(config.loadProcesses);
  const soak: SoakReport[] = [];
  try {
    checkOpenFiles(config, pool);
    if (config.soak) {
      for (const contender of runnable) {
        const report = await runSoak(contender, pool, config, (text) => progress(`${contender.name}: ${text}`));
        soak.push(report);
        progress(`${contender.name}: soak ${report.passed ? 'passed' : 'FAILED'}`);
      }
    } else {
      for (let round = 1; round <= config.rounds; round++) {
        for (const contender of runnable) {
          const figures = await measureRound(contender, pool, config, round, (text) =>
            progress(`round ${round}/${config.rounds} · ${contender.name} · ${text}`),
          );
          results.find((r) => r.name === contender.name)!.rounds.push(figures);
        }
      }
    }
  } finally {
    await pool.stop();
  }

  const metrics = config.soak ? [] : metricsFor(config);
  summarizeAll(results, metrics);
  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: machine(),
    mode: config.soak ? 'soak' : config.mode,
    seconds: (Date.now() - started) / 1000,
    config,
    baseline: BASELINE,
    metrics,
    contenders: results,
    goals: config.soak ? [] : checkGoals(results, config),
    ...(config.soak ||
    !(['echo', 'tls', 'broadcast'] as const).some((phase) => config.phases.includes(phase)) ||
    !CPU_PINNING
      ? {}
      : { cpuPinning: CPU_PINNING }),
    ...(config.soak ? { soak } : {}),
  };
  const outDir = config.outDir ?? DEFAULT_OUT;
  const written = config.soak ? writeSoak(result, outDir) : writeResults(result, outDir);
  if (!config.outDir && !config.soak && config.mode !== 'smoke') {
    // This app's README and the repository's show the latest run (a full one once there is one).
    for (const [readme, chartDir] of README_TABLES) {
      if (updateReadme(readme, result, chartDir)) written.push(readme);
    }
  }
  process.stdout.write(config.json ? `${JSON.stringify(result, null, 2)}\n` : terminalTable(result));
  progress(`wrote ${written.join(', ')}`);
  if (soak.some((s) => !s.passed)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: FAILED: ${(error as Error).message}\n`);
  process.exit(1);
});
