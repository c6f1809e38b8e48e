/**
 * Memory per idle compressing connection: net's server against a ws server, each in its own
 * process, with N ws clients (permessage-deflate on) that each send one compressible echo
 * (a 2 KiB chat-like JSON line, over both servers' 1 KiB threshold) and then sit idle.
 * Not a test: a script that prints the server's memory per connection.
 *
 *   pnpm --filter @socketlab/net bench:deflate-memory [-- --connections=500 --idle=6000]
 *
 * The server process is measured after a forced GC, before the clients connect and again once
 * they have been idle for `idle` ms (net releases an idle decompressor after two 2 s sweeps).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key = '', value = ''] = arg.replace(/^--/, '').split('=');
    return [key, value] as const;
  }),
);
const CONNECTIONS = Number(args.get('connections') ?? 500);
const IDLE_MS = Number(args.get('idle') ?? 6_000);

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

type Kind = 'net' | 'ws' | 'net-plain' | 'ws-plain';

/** The child: one server, answering `measure` with its memory after a GC. */
async function child(kind: Kind): Promise<void> {
  const deflate = !kind.endsWith('-plain');
  let port: number;
  if (kind.startsWith('net')) {
    const { createServer } = await import('../src/server.js');
    const server = await createServer({ perMessageDeflate: deflate });
    port = server.port;
  } else {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        const message = JSON.parse(data.toString()) as { payload: unknown };
        ws.send(isBinary ? data : JSON.stringify({ type: 'echo', payload: message.payload }));
      });
    });
    port = (wss.address() as { port: number }).port;
  }
  process.on('message', (message: string) => {
    if (message !== 'measure') return;
    globalThis.gc?.();
    const { rss, heapUsed, external } = process.memoryUsage();
    process.send?.({ rss, heapUsed, external } satisfies Memory);
  });
  process.send?.({ port });
}

async function measure(kind: Kind): Promise<Memory> {
  const server = fork(new URL(import.meta.url), ['--child', kind], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
  });
  const [{ port }] = (await once(server, 'message')) as [{ port: number }];
  const ask = async (): Promise<Memory> => {
    server.send('measure');
    const [memory] = (await once(server, 'message')) as [Memory];
    return memory;
  };
  const before = await ask();
  const line = JSON.stringify({ type: 'echo', payload: { user: 'someone', text: 'a chat line, '.repeat(160) } });
  const clients: WebSocket[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'echo-protocol', { perMessageDeflate: true });
    clients.push(ws);
    await once(ws, 'open');
    const echoed = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        if (data.toString().startsWith('{"type":"echo"')) resolve();
      });
    });
    ws.send(line);
    await echoed;
  }
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const after = await ask();
  for (const ws of clients) ws.terminate();
  server.kill();
  return {
    rss: (after.rss - before.rss) / CONNECTIONS,
    heapUsed: (after.heapUsed - before.heapUsed) / CONNECTIONS,
    external: (after.external - before.external) / CONNECTIONS,
  };
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Kind);
} else {
  const kib = (bytes: number): string => (bytes / 1024).toFixed(1).padStart(8);
  console.log(`${CONNECTIONS} connections, each sent one 2 KiB compressible echo, then idle ${IDLE_MS} ms`);
  console.log('server       KiB per connection:   RSS   JS heap  external');
  for (const kind of ['net', 'ws', 'net-plain', 'ws-plain'] as const) {
    const memory = await measure(kind);
    console.log(`${kind.padEnd(30)}${kib(memory.rss)}${kib(memory.heapUsed)}${kib(memory.external)}`);
  }
}
