/**
 * One round of every measurement against one contender. Each phase starts its own server
 * process, so no phase inherits another's heap or sockets.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestCa, type TestCertificate } from '@socketlab/conformance/tls';
import * as hdr from 'hdr-histogram-js';
import type { BenchConfig } from './config.js';
import type { Contender } from './contenders.js';
import type { EchoContent } from './load/payloads.js';
import type { LoadPool } from './load/pool.js';
import type {
  BroadcastCountsResult,
  ConnectResult,
  DeliveredEvent,
  MeasureResult,
  SendBroadcastsResult,
} from './load/protocol.js';
import { pinPhase } from './pin.js';
import { BenchServer } from './server.js';

/** Every figure one round produces, flat, by metric key (see METRICS in metrics.ts). */
export type RoundFigures = Record<string, number>;

/** How long a broadcast (or the last of a burst) may take to reach every client before the run fails. */
const DELIVERY_TIMEOUT_MS = 60_000;

/** A run that delivered the wrong number of messages: the benchmark fails, it never reports it. */
export class DeliveryError extends Error {}

export type Progress = (text: string) => void;

export async function measureRound(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  round: number,
  progress: Progress,
): Promise<RoundFigures> {
  const figures: RoundFigures = {};
  const { phases } = config;
  if (phases.includes('connect')) Object.assign(figures, await measureConnectRate(contender, pool, config, progress));
  if (phases.includes('memory') && round <= config.memoryRounds) {
    Object.assign(figures, await measureIdleMemory(contender, pool, config, progress));
  }
  if (phases.includes('echo')) Object.assign(figures, await measureEcho(contender, pool, config, progress));
  if (phases.includes('broadcast')) {
    Object.assign(figures, await measureBroadcastPhase(contender, pool, config, progress));
  }
  if (phases.includes('tls') && contender.client !== 'tcp') {
    Object.assign(figures, await measureTls(contender, pool, config, progress));
  }
  return figures;
}

let benchCertificate: TestCertificate | undefined;
/** A CA and leaf made for this run (openssl, in a temporary directory), as the tests make theirs. */
function certificate(): TestCertificate {
  benchCertificate ??= createTestCa().issue('bench');
  return benchCertificate;
}

/**
 * The TLS figures, beside the plain ones: the server started with --tls-cert/--tls-key,
 * the connection rate (each connection a full TLS handshake, no session resumption: the
 * load generator keeps no TLS session cache across clients) and the server's CPU per echo
 * of the smallest payload. The raw-TCP floor has no TLS.
 */
async function measureTls(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
): Promise<RoundFigures> {
  const figures: RoundFigures = {};
  const { certFile, keyFile, ca } = certificate();
  const flags = ['--tls-cert', certFile, '--tls-key', keyFile];
  const churnServer = await BenchServer.start(contender, config.cpuProfileDir, flags);
  try {
    progress(`TLS handshakes/s: ${config.connectClients} clients, ${config.connectConcurrency} at a time`);
    const counts = pool.split(config.connectClients);
    const perProcess = Math.max(1, Math.floor(config.connectConcurrency / pool.processes.length));
    const churned = await Promise.all(
      pool.processes.map((process, index) =>
        process.request<ConnectResult>(
          {
            op: 'churn',
            kind: contender.client,
            url: churnServer.url,
            count: counts[index] ?? 0,
            concurrency: perProcess,
            ca,
          },
          config.phaseTimeoutMs,
        ),
      ),
    );
    const seconds = (Math.max(...churned.map((r) => r.endNs)) - Math.min(...churned.map((r) => r.startNs))) / 1e9;
    figures['tls.connectPerSec'] = config.connectClients / seconds;
  } finally {
    await churnServer.stop(true);
  }

  const server = await BenchServer.start(contender, config.cpuProfileDir, flags);
  const echo = pool.first;
  let release = (): void => {};
  try {
    const payloadBytes = config.echoPayloads[0] ?? 64;
    await echo.request({
      op: 'connect',
      kind: contender.client,
      url: server.url,
      count: config.echoConnections,
      concurrency: config.connectConcurrency,
      ca,
    });
    await echo.request({ op: 'sync' });
    release = pinPhase(server.pid, [echo.pid]);
    progress(`echo ${formatBytes(payloadBytes)} over TLS x ${config.echoConnections} connections`);
    await echo.request({ op: 'echoStart', payloadBytes });
    await sleep(config.warmupMs);
    const cpuBefore = server.cpuMicros();
    await echo.request({ op: 'measureStart' });
    await sleep(config.echoMs);
    const result = await echo.request<MeasureResult>({ op: 'measureStop' });
    const cpu = server.cpuMicros() - cpuBefore;
    await echo.request({ op: 'echoStop' });
    if (result.echoes === 0)
      throw new DeliveryError(`${contender.name}: no echo came back over TLS in ${config.echoMs} ms`);
    if (result.mismatches > 0) {
      throw new DeliveryError(`${contender.name}: ${result.mismatches} echoes over TLS came back different`);
    }
    figures['tls.echo.msgsPerSec'] = result.echoes / (config.echoMs / 1000);
    figures['tls.echo.cpuUsPerEcho'] = cpu / result.echoes;
  } finally {
    release();
    await server.stop(true);
    await echo.request({ op: 'closeAll' });
  }
  return figures;
}

/** Connection rate: clients opened, welcomed and closed again (churn). */
async function measureConnectRate(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
): Promise<RoundFigures> {
  const figures: RoundFigures = {};
  const server = await BenchServer.start(contender, config.cpuProfileDir);
  try {
    progress(`connections/s: ${config.connectClients} clients, ${config.connectConcurrency} at a time`);
    const counts = pool.split(config.connectClients);
    const perProcess = Math.max(1, Math.floor(config.connectConcurrency / pool.processes.length));
    const churned = await Promise.all(
      pool.processes.map((process, index) =>
        process.request<ConnectResult>(
          { op: 'churn', kind: contender.client, url: server.url, count: counts[index] ?? 0, concurrency: perProcess },
          config.phaseTimeoutMs,
        ),
      ),
    );
    const seconds = (Math.max(...churned.map((r) => r.endNs)) - Math.min(...churned.map((r) => r.startNs))) / 1e9;
    figures.connectPerSec = config.connectClients / seconds;
  } finally {
    await server.stop(true);
  }
  return figures;
}

/** Idle memory per connection: clients held open on a fresh server, every join delivered. */
async function measureIdleMemory(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
): Promise<RoundFigures> {
  const figures: RoundFigures = {};
  const server = await BenchServer.start(contender, config.cpuProfileDir);
  try {
    // Twice: the first collection also frees what start-up left behind (module loading, tsx).
    await server.memoryAfterGc();
    const baseline = await server.memoryAfterGc();
    progress(`idle memory: connect ${config.idleClients} clients (every join fanned out to all)`);
    await connectSpread(contender, server.url, pool, config.idleClients, config);
    // Every join queued before is delivered once each client's own echo came back.
    await pool.all({ op: 'sync' }, config.phaseTimeoutMs);
    await server.memoryAfterGc();
    const held = await server.memoryAfterGc();
    figures.memoryPerConnection = (held.rss - baseline.rss) / config.idleClients;
    figures.heapPerConnection = (held.heapUsed - baseline.heapUsed) / config.idleClients;
  } finally {
    // SIGKILL: a graceful stop would send every one of thousands of clients a leave per peer.
    await server.stop(true);
    await pool.all({ op: 'closeAll' }, config.phaseTimeoutMs);
  }
  return figures;
}

async function connectSpread(
  contender: Contender,
  url: string,
  pool: LoadPool,
  count: number,
  config: BenchConfig,
): Promise<ConnectResult[]> {
  const counts = pool.split(count);
  const perProcess = Math.max(1, Math.floor(config.connectConcurrency / pool.processes.length));
  const results = await Promise.all(
    pool.processes.map((process, index) =>
      (counts[index] ?? 0) > 0
        ? process.request<ConnectResult>(
            { op: 'connect', kind: contender.client, url, count: counts[index] ?? 0, concurrency: perProcess },
            config.phaseTimeoutMs,
          )
        : undefined,
    ),
  );
  return results.filter((r): r is ConnectResult => r !== undefined);
}

async function measureEcho(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
): Promise<RoundFigures> {
  const figures: RoundFigures = {};
  const server = await BenchServer.start(contender, config.cpuProfileDir);
  let release = (): void => {};
  try {
    // Echo: one load process, so that it has a core of its own beside the server's.
    const echo = pool.first;
    // Bytes per handshake: one client alone on the server, so no other client's join or
    // echo shares its reads; counted from the first byte to its welcome.
    const alone = await echo.request<ConnectResult>({
      op: 'connect',
      kind: contender.client,
      url: server.url,
      count: 1,
      concurrency: 1,
    });
    figures.handshakeBytes = alone.handshakeBytes;
    await echo.request({
      op: 'connect',
      kind: contender.client,
      url: server.url,
      count: config.echoConnections - 1,
      concurrency: config.connectConcurrency,
    });
    await echo.request({ op: 'sync' });
    release = pinPhase(server.pid, [echo.pid]);
    for (const [payloadBytes, content] of echoWindows(config)) {
      const key = echoKey(payloadBytes, content);
      progress(
        `echo ${formatBytes(payloadBytes)}${content === 'repeat' ? '' : ` ${content}`} x ${config.echoConnections} connections`,
      );
      await echo.request({ op: 'echoStart', payloadBytes, content });
      await sleep(config.warmupMs);
      const cpuBefore = server.cpuMicros();
      await echo.request({ op: 'measureStart' });
      await sleep(config.echoMs);
      const result = await echo.request<MeasureResult>({ op: 'measureStop' });
      const cpu = server.cpuMicros() - cpuBefore;
      await echo.request({ op: 'echoStop' });
      if (result.echoes === 0) throw new DeliveryError(`${contender.name}: no echo came back in ${config.echoMs} ms`);
      if (result.mismatches > 0) {
        throw new DeliveryError(`${contender.name}: ${result.mismatches} echoes came back different`);
      }
      const histogram = hdr.decodeFromCompressedBase64(result.histogram);
      figures[`${key}.msgsPerSec`] = result.echoes / (config.echoMs / 1000);
      figures[`${key}.p50Us`] = histogram.getValueAtPercentile(50);
      figures[`${key}.p99Us`] = histogram.getValueAtPercentile(99);
      figures[`${key}.p999Us`] = histogram.getValueAtPercentile(99.9);
      figures[`${key}.cpuUsPerEcho`] = cpu / result.echoes;
      figures[`${key}.bytesPerEcho`] = result.wireBytes / result.echoes;
      figures[`${key}.clientCpuUsPerEcho`] = result.cpuMicros / result.echoes;
    }
  } finally {
    release();
    await server.stop(true);
    await pool.first.request({ op: 'closeAll' });
  }
  return figures;
}

/**
 * Broadcast on a fresh server: a client closed just before may still be counted by the
 * server for a while (socket.io long-polling notices only at its ping timeout), and the
 * delivery check needs the room to hold exactly the broadcast clients.
 */
async function measureBroadcastPhase(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
): Promise<RoundFigures> {
  const server = await BenchServer.start(contender, config.cpuProfileDir);
  let release = (): void => {};
  try {
    progress(`broadcast to ${config.broadcastClients} clients`);
    await connectSpread(contender, server.url, pool, config.broadcastClients, config);
    await pool.all({ op: 'sync' }, config.phaseTimeoutMs);
    // This process counts the deliveries: it is load-side too.
    release = pinPhase(server.pid, [...pool.processes.map((load) => load.pid), process.pid]);
    return await measureBroadcast(contender, pool, config, progress, server);
  } finally {
    release();
    await server.stop(true);
    await pool.all({ op: 'closeAll' }, config.phaseTimeoutMs);
  }
}

async function measureBroadcast(
  contender: Contender,
  pool: LoadPool,
  config: BenchConfig,
  progress: Progress,
  server: BenchServer,
): Promise<RoundFigures> {
  const clients = config.broadcastClients;
  const reporting = pool.split(clients).filter((count) => count > 0).length;
  // seq -> processes that reported every client has it, and the latest arrival among them
  const delivered = new Map<number, { processes: number; lastNs: number }>();
  let notify: (() => void) | undefined;
  const onDelivered = (event: DeliveredEvent): void => {
    const entry = delivered.get(event.seq) ?? { processes: 0, lastNs: 0 };
    entry.processes++;
    entry.lastNs = Math.max(entry.lastNs, event.lastNs);
    delivered.set(event.seq, entry);
    notify?.();
  };
  for (const process of pool.processes) process.onDelivered = onDelivered;
  const waitFor = async (seqs: number[]): Promise<number> => {
    const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
    for (;;) {
      const missing = seqs.filter((seq) => (delivered.get(seq)?.processes ?? 0) < reporting);
      if (missing.length === 0) return Math.max(...seqs.map((seq) => delivered.get(seq)!.lastNs));
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DeliveryError(
          `${contender.name}: broadcast ${missing[0]} did not reach all ${clients} clients within ${DELIVERY_TIMEOUT_MS} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      notify = undefined;
    }
  };

  try {
    await pool.all({ op: 'expectBroadcasts' });
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000 });
    for (let seq = 0; seq < config.broadcasts; seq++) {
      const { sentNs } = await pool.first.request<SendBroadcastsResult>({
        op: 'sendBroadcasts',
        seq,
        count: 1,
        padBytes: config.broadcastPadBytes,
      });
      const lastNs = await waitFor([seq]);
      histogram.recordValue(Math.max(1, Math.round((lastNs - sentNs) / 1000)));
    }
    progress(`burst of ${config.burst} broadcasts to ${clients} clients`);
    const first = config.broadcasts;
    const cpuBefore = server.cpuMicros();
    const { sentNs } = await pool.first.request<SendBroadcastsResult>({
      op: 'sendBroadcasts',
      seq: first,
      count: config.burst,
      padBytes: config.broadcastPadBytes,
    });
    const seqs = Array.from({ length: config.burst }, (_, i) => first + i);
    const lastNs = await waitFor(seqs);
    const burstSeconds = (lastNs - sentNs) / 1e9;
    const burstCpu = server.cpuMicros() - cpuBefore;

    // The same burst with chat-like JSON over the compression threshold: what a compressing
    // server pays to deflate a broadcast (once, or once per recipient) against a plain one.
    progress(
      `burst of ${config.burst} chat broadcasts (${formatBytes(config.broadcastChatBytes)}) to ${clients} clients`,
    );
    const chatFirst = first + config.burst;
    const chatCpuBefore = server.cpuMicros();
    const chat = await pool.first.request<SendBroadcastsResult>({
      op: 'sendBroadcasts',
      seq: chatFirst,
      count: config.burst,
      padBytes: config.broadcastChatBytes,
      chat: true,
    });
    const chatLastNs = await waitFor(Array.from({ length: config.burst }, (_, i) => chatFirst + i));
    const chatCpu = server.cpuMicros() - chatCpuBefore;
    const chatSeconds = (chatLastNs - chat.sentNs) / 1e9;

    // Anything still on its way has arrived once every client's own echo is back.
    await pool.all({ op: 'sync' }, config.phaseTimeoutMs);
    const counts = await pool.all<BroadcastCountsResult>({ op: 'broadcastCounts' });
    const expected = config.broadcasts + 2 * config.burst;
    const total = counts.reduce((sum, c) => sum + c.total, 0);
    const min = Math.min(...counts.filter((c) => c.clients > 0).map((c) => c.min));
    const max = Math.max(...counts.filter((c) => c.clients > 0).map((c) => c.max));
    if (total !== expected * clients || min !== expected || max !== expected) {
      throw new DeliveryError(
        `${contender.name}: broadcast delivery count wrong: ${total} deliveries, expected exactly ${expected} x ${clients} = ${expected * clients} (per client min ${min}, max ${max})`,
      );
    }
    const recipients = counts[0]?.recipients ?? [];
    if (recipients.length !== expected || recipients.some((n) => n !== clients)) {
      throw new DeliveryError(
        `${contender.name}: broadcastResult wrong: ${recipients.length} results (expected ${expected}), recipients ${[...new Set(recipients)].join(', ')} (expected ${clients})`,
      );
    }
    return {
      'broadcast.p50Ms': histogram.getValueAtPercentile(50) / 1000,
      'broadcast.p99Ms': histogram.getValueAtPercentile(99) / 1000,
      'broadcast.deliveries': total,
      'burst.deliveriesPerSec': (config.burst * clients) / burstSeconds,
      // The sender's process is the load generator's: this is the server's CPU alone.
      'burst.cpuUsPerDelivery': burstCpu / (config.burst * clients),
      'burstChat.deliveriesPerSec': (config.burst * clients) / chatSeconds,
      'burstChat.cpuUsPerDelivery': chatCpu / (config.burst * clients),
    };
  } finally {
    for (const process of pool.processes) process.onDelivered = undefined;
  }
}

/** Every echo window of a round: each payload size with each content. */
export function echoWindows(config: BenchConfig): [number, EchoContent][] {
  return config.echoPayloads.flatMap((bytes) =>
    config.echoContents.map((content) => [bytes, content] as [number, EchoContent]),
  );
}

/** `echo64` for the repeated payload (the plain phases' key since the first runs), `echo64-chat` for the others. */
export function echoKey(bytes: number, content: EchoContent): string {
  return content === 'repeat' ? `echo${bytes}` : `echo${bytes}-${content}`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
