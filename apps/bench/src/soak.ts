import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchConfig } from './config.js';
import type { Contender } from './contenders.js';
import type { LoadPool } from './load/pool.js';
import type { BroadcastCountsResult, ConnectResult, SoakResult } from './load/protocol.js';
import type { Progress } from './measure.js';
import type { SoakReport } from './report.js';
import { BenchServer } from './server.js';

/** Memory counts as flat when the last sample is within this of the first one under load. */
const FLAT_GROWTH = 0.1;
const FLAT_SLACK_BYTES = 8 * 2 ** 20;
const SAMPLES = 10;
/**
 * Opening the clients delivers the join storm, N(N-1)/2 joins (2 million at 2,000 clients). ws
 * delivers about 150,000 a second on this machine alone, but shared with other work it has managed
 * under 17,000 (ws's 2,000 clients then took over 2 minutes and the quick phase timeout ended the
 * soak): the connect and the first sync wait as long as 5,000 joins a second would take.
 */
const WORST_JOINS_PER_SECOND = 5000;

/**
 * Test hook, for the bench's own test only: `<contender>:<count>` makes the load generator
 * discard the first <count> soak echo replies of that contender as if they never arrived, so
 * the test can check that a loss is reported against that contender and no other. It is no
 * flag and not in the usage text; a soak it touched says so on stderr and in its report
 * (`injectedLoss`), so such a run can never pass for a real one.
 */
export const INJECT_LOSS_ENV = 'SOCKETLAB_BENCH_TEST_DROP_SOAK_REPLIES';

/** The replies the test hook drops for this contender (0 when the variable is unset or names another). */
export function injectedReplyLoss(contender: string, env: NodeJS.ProcessEnv = process.env): number {
  const value = env[INJECT_LOSS_ENV];
  if (value === undefined || value === '') return 0;
  const match = /^([^:]+):(\d+)$/.exec(value);
  if (!match) throw new Error(`${INJECT_LOSS_ENV} must be <contender>:<count>, got "${value}"`);
  return match[1] === contender ? Number(match[2]) : 0;
}

/**
 * Thousands of clients echo (one numbered echo each per interval) and one broadcasts
 * periodically, for the soak duration. Every echo must come back exactly once and in
 * order, every broadcast reach every client exactly once, and the server's RSS after a
 * forced GC must not grow. An error on the way (a client that closes, a probe that does not
 * answer) fails this contender's soak with what was counted until then; the next one still runs.
 */
export async function runSoak(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
): Promise<SoakReport> {
  const server = await BenchServer.start(contender, config.cpuProfileDir);
  const injectedLoss = injectedReplyLoss(contender.name);
  let echoStarted: number | undefined;
  let seconds = 0;
  let broadcastsSent = 0;
  const rssSamples: number[] = [];
  let failure: string | undefined;
  try {
    progress(`soak: connect ${config.soakClients} clients`);
    const joins = (config.soakClients * (config.soakClients - 1)) / 2;
    const stormTimeoutMs = Math.max(config.phaseTimeoutMs, Math.ceil((joins / WORST_JOINS_PER_SECOND) * 1000));
    const connectStarted = Date.now();
    const counts = pool.split(config.soakClients);
    await Promise.all(
      pool.processes.map((process, index) =>
        (counts[index] ?? 0) > 0
          ? process.request<ConnectResult>(
              {
                op: 'connect',
                kind: contender.client,
                url: server.url,
                count: counts[index] ?? 0,
                concurrency: Math.max(1, Math.floor(config.connectConcurrency / pool.processes.length)),
              },
              stormTimeoutMs,
            )
          : undefined,
      ),
    );
    await pool.all({ op: 'sync' }, stormTimeoutMs);
    progress(
      `soak: ${config.soakClients} clients connected, every join delivered (${Math.round((Date.now() - connectStarted) / 1000)} s)`,
    );
    await pool.all({ op: 'expectBroadcasts' });
    if (injectedLoss > 0)
      progress(`soak: ${INJECT_LOSS_ENV}: dropping the first ${injectedLoss} echo replies (test hook)`);
    // The echo traffic runs from before soakStart until soakStop has answered: `seconds` spans it.
    echoStarted = Date.now();
    await Promise.all(
      pool.processes.map((process, index) =>
        process.request({
          op: 'soakStart',
          intervalMs: config.soakEchoIntervalMs,
          dropReplies: index === 0 ? injectedLoss : 0,
        }),
      ),
    );
    const started = Date.now();
    let broadcasting = Promise.resolve();
    const broadcastTimer = setInterval(() => {
      broadcasting = broadcasting.then(async () => {
        await pool.first.request({ op: 'sendBroadcasts', seq: broadcastsSent, count: 1, padBytes: 32 });
        broadcastsSent++;
      });
    }, config.soakBroadcastIntervalMs);
    try {
      for (let sample = 1; sample <= SAMPLES; sample++) {
        await sleep(started + (config.soakMs * sample) / SAMPLES - Date.now());
        rssSamples.push(await server.rssAfterGc());
        progress(
          `soak: ${Math.round((Date.now() - started) / 1000)} s of ${Math.round(config.soakMs / 1000)} s, RSS after GC ${(rssSamples.at(-1)! / 2 ** 20).toFixed(1)} MiB`,
        );
      }
    } finally {
      clearInterval(broadcastTimer);
      await broadcasting;
    }
    await pool.all({ op: 'soakStop' });
    seconds = (Date.now() - echoStarted) / 1000;
    // Every echo and broadcast sent has come back once each client's own sync echo has.
    await pool.all({ op: 'sync' }, config.phaseTimeoutMs);
  } catch (error) {
    const message = (error as Error).message;
    // The report keeps the first line (a load process's stack or a server's stderr follow it).
    failure = message.split('\n')[0]!.trim();
    if (echoStarted !== undefined && seconds === 0) seconds = (Date.now() - echoStarted) / 1000;
    progress(`soak: FAILED: ${message}`);
    // The server's own warnings (its logs are quiet otherwise) often say what happened.
    const serverLog = server.process.stderr().trim().split('\n').slice(-20).join('\n');
    if (serverLog) progress(`soak: the server's last log lines:\n${serverLog}`);
  }
  try {
    // After a failure: what was counted until then (no soak started: nothing), replies in flight not awaited.
    const counted = async <T>(op: 'soakResult' | 'broadcastCounts'): Promise<T[]> =>
      echoStarted === undefined ? [] : pool.all<T>({ op }, 30_000).catch(() => []);
    const soaks = await counted<SoakResult>('soakResult');
    const deliveries = await counted<BroadcastCountsResult>('broadcastCounts');
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const echoesSent = sum(soaks.map((s) => s.sent));
    const echoesReceived = sum(soaks.map((s) => s.received));
    const duplicated = sum(soaks.map((s) => s.duplicated));
    const outOfOrder = sum(soaks.map((s) => s.outOfOrder));
    const dropped = sum(soaks.map((s) => s.dropped));
    const broadcastDeliveries = sum(deliveries.map((d) => d.total));
    const broadcastDeliveriesExpected = broadcastsSent * config.soakClients;
    const everyClientExact = deliveries.every(
      (d) => d.clients === 0 || (d.min === broadcastsSent && d.max === broadcastsSent),
    );
    const first = rssSamples[0] ?? 0;
    const last = rssSamples.at(-1) ?? 0;
    const rssGrowth = first ? (last - first) / first : 0;
    const memoryFlat = last - first <= Math.max(first * FLAT_GROWTH, FLAT_SLACK_BYTES);
    const lost = echoesSent - echoesReceived;
    return {
      contender: contender.name,
      clients: config.soakClients,
      echoIntervalMs: config.soakEchoIntervalMs,
      seconds,
      echoesSent,
      echoesReceived,
      lost,
      duplicated,
      outOfOrder,
      broadcastsSent,
      broadcastDeliveries,
      broadcastDeliveriesExpected,
      rssSamples,
      rssGrowth,
      memoryFlat,
      ...(injectedLoss > 0 ? { injectedLoss: dropped } : {}),
      ...(failure === undefined ? {} : { error: failure }),
      passed:
        failure === undefined &&
        lost === 0 &&
        duplicated === 0 &&
        outOfOrder === 0 &&
        everyClientExact &&
        broadcastDeliveries === broadcastDeliveriesExpected &&
        memoryFlat,
    };
  } finally {
    await server.stop(true);
    await pool.all({ op: 'closeAll' }, config.phaseTimeoutMs);
  }
}
