/**
 * Cross-process broadcast latency (scale-out, packages/bus): two server processes of one
 * contender on one Redis. A sender on process A broadcasts; receivers sit on A (local path)
 * and on B (through Redis). Each broadcast is timed until every local and every remote
 * receiver has it; the table gives both and their ratio, so the bus's cost stands alone.
 *
 *   pnpm --filter bench cross-process -- [--contenders net,ws,websocket] [--receivers N]
 *     [--broadcasts N] [--redis-url URL] [--json] [--out DIR]
 *
 * WebSocket contenders only (the load client is `ws`); Redis must answer (REDIS_URL or
 * 127.0.0.1:6379), otherwise the run fails with one clear line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ServerProcess, startServerProcess } from '@socketlab/cli/process';
import { within } from '@socketlab/contract';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { CONTENDERS, SERVER_FLAGS } from './contenders.js';
import { formatNumber } from './metrics.js';
import { svgGroupedChart } from './report.js';

const { values } = parseArgs({
  options: {
    contenders: { type: 'string', default: 'net,ws,websocket' },
    receivers: { type: 'string', default: '20' },
    broadcasts: { type: 'string', default: '300' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    json: { type: 'boolean', default: false },
    out: { type: 'string', default: join(import.meta.dirname, '..', 'results') },
  },
});
const receivers = Number(values.receivers);
const broadcasts = Number(values.broadcasts);
const WAIT_MS = 30_000;

interface Row {
  contender: string;
  localP50Ms: number;
  localP99Ms: number;
  remoteP50Ms: number;
  remoteP99Ms: number;
  deliveries: number;
}

function open(url: string): Promise<{ ws: WebSocket; id: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['echo-protocol']);
    ws.once('error', reject);
    ws.once('message', (data) => {
      const welcome = JSON.parse(String(data)) as { type: string; id: string };
      resolve({ ws, id: welcome.id });
    });
  });
}

async function measure(name: string, appDir: string, progress: (text: string) => void): Promise<Row> {
  const prefix = `bench-cross-${process.pid}-${Date.now()}-${name}`;
  const flags = [...SERVER_FLAGS, '--redis-url', values['redis-url'], '--redis-prefix', prefix];
  const servers: ServerProcess[] = [];
  const sockets: WebSocket[] = [];
  try {
    servers.push(await startServerProcess(appDir, flags), await startServerProcess(appDir, flags));
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const half = Math.max(1, Math.floor(receivers / 2));
    const local = await Promise.all(Array.from({ length: half }, () => open(a.url)));
    const remote = await Promise.all(Array.from({ length: half }, () => open(b.url)));
    sockets.push(...local.map((c) => c.ws), ...remote.map((c) => c.ws));
    // The sender's join reaching every remote receiver proves the Redis path is live.
    const joined = remote.map(
      ({ ws }) =>
        new Promise<void>((resolve) => {
          const onJoin = (data: WebSocket.RawData) => {
            if ((JSON.parse(String(data)) as { type: string }).type === 'join') {
              ws.off('message', onJoin);
              resolve();
            }
          };
          ws.on('message', onJoin);
        }),
    );
    const sender = await open(a.url);
    sockets.push(sender.ws);
    await within(Promise.all(joined), WAIT_MS, "the sender's join to reach the other process");

    const localHist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
    const remoteHist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
    let deliveries = 0;
    for (let seq = 0; seq < broadcasts; seq++) {
      if (seq % 100 === 0) progress(`${name}: broadcast ${seq + 1}/${broadcasts}`);
      const arrival = (group: { ws: WebSocket }[]) =>
        Promise.all(
          group.map(
            ({ ws }) =>
              new Promise<void>((resolve) => {
                const onMessage = (data: WebSocket.RawData) => {
                  const message = JSON.parse(String(data)) as {
                    type: string;
                    from?: string;
                    payload?: { seq?: number };
                  };
                  if (message.type === 'broadcast' && message.from === sender.id && message.payload?.seq === seq) {
                    ws.off('message', onMessage);
                    deliveries++;
                    resolve();
                  }
                };
                ws.on('message', onMessage);
              }),
          ),
        ).then(() => process.hrtime.bigint());
      const localDone = arrival(local);
      const remoteDone = arrival(remote);
      const sent = process.hrtime.bigint();
      sender.ws.send(JSON.stringify({ type: 'broadcast', payload: { seq } }));
      const [localAt, remoteAt] = await within(
        Promise.all([localDone, remoteDone]),
        WAIT_MS,
        `broadcast ${seq} to every receiver`,
      );
      localHist.recordValue(Math.max(1, Number((localAt - sent) / 1000n)));
      remoteHist.recordValue(Math.max(1, Number((remoteAt - sent) / 1000n)));
    }
    const expected = broadcasts * half * 2;
    if (deliveries !== expected) throw new Error(`${name}: ${deliveries} deliveries, expected exactly ${expected}`);
    return {
      contender: name,
      localP50Ms: localHist.getValueAtPercentile(50) / 1000,
      localP99Ms: localHist.getValueAtPercentile(99) / 1000,
      remoteP50Ms: remoteHist.getValueAtPercentile(50) / 1000,
      remoteP99Ms: remoteHist.getValueAtPercentile(99) / 1000,
      deliveries,
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
  }
}

const rows: Row[] = [];
for (const name of values.contenders.split(',')) {
  const contender = CONTENDERS.find((c) => c.name === name);
  if (!contender || contender.client !== 'websocket') {
    process.stderr.write(`cross-process: "${name}" is not a WebSocket contender (net, ws, websocket)\n`);
    process.exit(2);
  }
  try {
    rows.push(await measure(name, contender.appDir, (text) => process.stderr.write(`${text}\n`)));
  } catch (error) {
    process.stderr.write(`cross-process: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

const date = new Date().toISOString();
const table = [
  `Cross-process broadcast latency, ${date}: a sender on process A; ${Math.max(1, Math.floor(receivers / 2))} receivers on A and as many on B, through Redis; ${broadcasts} broadcasts, one at a time, every delivery counted.`,
  '',
  '| contender | local p50 (ms) | local p99 (ms) | through Redis p50 (ms) | through Redis p99 (ms) | Redis/local p50 |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.contender} | ${formatNumber(r.localP50Ms)} | ${formatNumber(r.localP99Ms)} | ${formatNumber(r.remoteP50Ms)} | ${formatNumber(r.remoteP99Ms)} | ${(r.remoteP50Ms / r.localP50Ms).toFixed(2)}x |`,
  ),
].join('\n');
mkdirSync(values.out, { recursive: true });
writeFileSync(
  join(values.out, 'cross-process.md'),
  `${table}\n\n![cross-process broadcast latency](cross-process.svg)\n`,
);
writeFileSync(
  join(values.out, 'cross-process.svg'),
  svgGroupedChart(
    'cross-process broadcast: until every receiver has it (ms)',
    `lower is better · ${broadcasts} broadcasts · two processes of each server on one Redis · ${date.slice(0, 10)}`,
    ['local p50', 'through Redis p50', 'local p99', 'through Redis p99'],
    rows.map((r) => ({ label: r.contender, values: [r.localP50Ms, r.remoteP50Ms, r.localP99Ms, r.remoteP99Ms] })),
  ),
);
writeFileSync(
  join(values.out, 'cross-process.json'),
  `${JSON.stringify({ date, receivers, broadcasts, rows }, null, 2)}\n`,
);
process.stdout.write(values.json ? `${JSON.stringify({ date, rows })}\n` : `${table}\n`);
process.exit(0);
