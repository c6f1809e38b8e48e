/**
 * What presence costs with a bus, and how fast it reacts to a crash (issue 15, packages/bus
 * README "Presence"): server processes of one contender on one Redis.
 *
 * - storm: `--storm` clients (default 1,000) open, are welcomed and close, `--concurrency`
 *   (default 50) at a time, against process A while process B holds `--idle` / 10 clients
 *   (so A's roster and B's heartbeats are not empty): connections/s.
 * - memory: idle memory per connection on A with the bus (`--idle` clients held open; full
 *   GC through the memory probe before each reading).
 * - kill: `--rounds` times, a victim process C with `--victims` clients is SIGKILLed; the
 *   time from the kill until the last observer on A has every one of its leaves (p50/p99).
 *   Bounded by the presence timeout (`--presence-timeout`, the servers' default if absent).
 *
 *   pnpm --filter bench presence -- [--contenders ws,net,websocket] [--phases storm,memory,kill]
 *     [--storm N] [--concurrency N] [--idle N] [--rounds N] [--victims N] [--observers N]
 *     [--presence-timeout D] [--redis-url URL] [--json] [--out DIR] [--smoke]
 *
 * `--phases storm,memory` without `--presence-timeout` also runs on a tree without presence,
 * which is how the before/after ratios are taken. WebSocket contenders only (the load client
 * is `ws`); Redis must answer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { eventually, within } from '@socketlab/contract';
import WebSocket from 'ws';
import { CONTENDERS, type Contender } from './contenders.js';
import { formatNumber, median } from './metrics.js';
import { BenchServer } from './server.js';

// `pnpm --filter bench presence -- --smoke` passes the `--` through on some pnpm versions.
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
const { values } = parseArgs({
  args: argv,
  options: {
    contenders: { type: 'string', default: 'ws,net,websocket' },
    phases: { type: 'string', default: 'storm,memory,kill' },
    storm: { type: 'string' },
    concurrency: { type: 'string' },
    idle: { type: 'string' },
    rounds: { type: 'string' },
    victims: { type: 'string' },
    observers: { type: 'string' },
    'presence-timeout': { type: 'string' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    json: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string', default: join(import.meta.dirname, '..', 'results') },
  },
});
const smoke = values.smoke;
const count = (text: string | undefined, full: number, small: number): number => {
  const n = text === undefined ? (smoke ? small : full) : Number(text);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`"${text}" is not a positive count`);
  return n;
};
const storm = count(values.storm, 1_000, 40);
const concurrency = count(values.concurrency, 50, 10);
const idle = count(values.idle, 1_000, 40);
const rounds = count(values.rounds, 10, 2);
const victims = count(values.victims, 20, 3);
const observers = count(values.observers, 10, 2);
const phases = new Set(values.phases.split(','));
const presenceTimeout = values['presence-timeout'] ?? (smoke ? '1s' : undefined);
const WAIT_MS = 60_000;

interface Row {
  contender: string;
  stormPerSec?: number;
  memoryPerConnection?: number;
  heapPerConnection?: number;
  /** Time from each kill until the last observer had the last leave, per round (ms). */
  lastLeaveMs?: number[];
  lastLeaveP50Ms?: number;
  lastLeaveP99Ms?: number;
}

/** A raw contract client: its id, and the presence set it was told. */
interface Peer {
  ws: WebSocket;
  id: string;
  members: Set<string>;
}

function open(url: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['echo-protocol']);
    ws.once('error', reject);
    const members = new Set<string>();
    let peer: Peer | undefined;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id: string; members?: string[] };
      if (message.type === 'welcome') {
        for (const id of message.members ?? []) members.add(id);
        peer = { ws, id: message.id, members };
        resolve(peer);
      } else if (message.type === 'join') members.add(message.id);
      else if (message.type === 'leave') members.delete(message.id);
    });
  });
}

function close(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(contender: Contender, progress: (text: string) => void): Promise<Row> {
  const prefix = `bench-presence-${process.pid}-${Date.now()}-${contender.name}`;
  const flags = ['--redis-url', values['redis-url'], '--redis-prefix', prefix];
  if (presenceTimeout !== undefined) flags.push('--presence-timeout', presenceTimeout);
  const servers: BenchServer[] = [];
  const sockets: WebSocket[] = [];
  const row: Row = { contender: contender.name };
  /** Processes A and B on the bus, B holding `idle` / 10 clients (so A's roster is not empty). */
  const pair = async (): Promise<[BenchServer, BenchServer]> => {
    const started = await Promise.all([
      BenchServer.start(contender, undefined, flags),
      BenchServer.start(contender, undefined, flags),
    ]);
    servers.push(...started);
    const held = await Promise.all(
      Array.from({ length: Math.max(1, Math.floor(idle / 10)) }, () => open(started[1].url)),
    );
    sockets.push(...held.map((p) => p.ws));
    return started;
  };
  try {
    let [a] = await pair();

    if (phases.has('storm')) {
      progress(`${contender.name}: storm of ${storm}, ${concurrency} at a time`);
      let next = 0;
      const started = process.hrtime.bigint();
      await within(
        Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < storm) {
              next++;
              const peer = await open(a.url);
              await close(peer.ws);
            }
          }),
        ),
        WAIT_MS * 5,
        'the connection storm',
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      row.stormPerSec = storm / seconds;
    }

    if (phases.has('memory')) {
      progress(`${contender.name}: idle memory of ${idle} connections`);
      // A fresh pair: what the storm left (freed but not returned pages) would blur the baseline.
      if (phases.has('storm')) [a] = await pair();
      await a.memoryAfterGc();
      const baseline = await a.memoryAfterGc();
      const idlers: Peer[] = [];
      for (let i = 0; i < idle; i += concurrency) {
        const batch = await Promise.all(Array.from({ length: Math.min(concurrency, idle - i) }, () => open(a.url)));
        idlers.push(...batch);
        sockets.push(...batch.map((p) => p.ws));
      }
      await a.memoryAfterGc();
      const loaded = await a.memoryAfterGc();
      row.memoryPerConnection = (loaded.rss - baseline.rss) / idle;
      row.heapPerConnection = (loaded.heapUsed - baseline.heapUsed) / idle;
      await Promise.all(idlers.map((p) => close(p.ws)));
    }

    if (phases.has('kill')) {
      const watchers = await Promise.all(Array.from({ length: observers }, () => open(a.url)));
      sockets.push(...watchers.map((p) => p.ws));
      const times: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        progress(`${contender.name}: kill round ${round}/${rounds}`);
        const victim = await BenchServer.start(contender, undefined, flags);
        servers.push(victim);
        const lost = await Promise.all(Array.from({ length: victims }, () => open(victim.url)));
        sockets.push(...lost.map((p) => p.ws));
        await eventually(
          () => watchers.every((w) => lost.every((l) => w.members.has(l.id))),
          WAIT_MS,
          "the victim's clients to reach every observer",
          5,
        );
        const killedAt = process.hrtime.bigint();
        await victim.process.stop('SIGKILL');
        await eventually(
          () => watchers.every((w) => lost.every((l) => !w.members.has(l.id))),
          WAIT_MS,
          "every observer to get the victim's leaves",
          5,
        );
        times.push(Number(process.hrtime.bigint() - killedAt) / 1e6);
      }
      row.lastLeaveMs = times;
      row.lastLeaveP50Ms = percentile(times, 50);
      row.lastLeaveP99Ms = percentile(times, 99);
    }
    return row;
  } finally {
    for (const ws of sockets) ws.terminate();
    await Promise.all(servers.map((server) => server.process.stop('SIGKILL')));
  }
}

const rows: Row[] = [];
for (const name of values.contenders.split(',')) {
  const contender = CONTENDERS.find((c) => c.name === name);
  if (!contender || contender.client !== 'websocket') {
    process.stderr.write(`presence: "${name}" is not a WebSocket contender (net, ws, websocket)\n`);
    process.exit(2);
  }
  try {
    rows.push(await measure(contender, (text) => process.stderr.write(`${text}\n`)));
  } catch (error) {
    process.stderr.write(`presence: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

const date = new Date().toISOString();
const show = (value: number | undefined): string => (value === undefined ? '-' : formatNumber(value));
const table = [
  `Presence with a bus, ${date}: two processes of each server on one Redis; storm: ${storm} clients opened, welcomed and closed, ${concurrency} at a time; idle memory: ${idle} connections; kill -9: ${rounds} rounds of a process with ${victims} clients, ${observers} observers elsewhere${presenceTimeout ? `, --presence-timeout ${presenceTimeout}` : ''}.`,
  '',
  '| contender | storm (conn/s) | idle memory per connection (bytes) | JS heap per connection (bytes) | last leave after kill -9, p50 (ms) | p99 (ms) | median (ms) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.contender} | ${show(r.stormPerSec)} | ${show(r.memoryPerConnection)} | ${show(r.heapPerConnection)} | ${show(r.lastLeaveP50Ms)} | ${show(r.lastLeaveP99Ms)} | ${show(r.lastLeaveMs && median(r.lastLeaveMs))} |`,
  ),
].join('\n');
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, 'presence.md'), `${table}\n`);
const report = { date, storm, concurrency, idle, rounds, victims, observers, presenceTimeout, rows };
writeFileSync(join(values.out, 'presence.json'), `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${table}\n`);
process.exit(0);
