/**
 * Server CPU of a broadcast to many recipients, compressed against plain: net's server in its own
 * process, N raw TCP clients that offer permessage-deflate (or not) and only read. Not a test: a
 * script that prints the server's CPU per broadcast in each mode and the ratio.
 *
 *   pnpm --filter @socketlab/net bench:deflate-broadcast [-- --recipients=500 --broadcasts=200 --rounds=2]
 *
 * The payload is a 2 KiB chat-like JSON line (over the 1 KiB threshold). The modes alternate
 * for `rounds` rounds; each round's CPU is the server's user + system time over the broadcasts.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { type Socket, connect as tcpConnect } from 'node:net';
import { encodeFrame } from '../src/sender.js';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key = '', value = ''] = arg.replace(/^--/, '').split('=');
    return [key, value] as const;
  }),
);
const RECIPIENTS = Number(args.get('recipients') ?? 500);
const BROADCASTS = Number(args.get('broadcasts') ?? 200);
const ROUNDS = Number(args.get('rounds') ?? 2);

async function child(): Promise<void> {
  const { createServer } = await import('../src/server.js');
  const server = await createServer({ perMessageDeflate: true, outboundLimit: 64 << 20 });
  process.on('message', (message: string) => {
    if (message === 'cpu') process.send?.(process.cpuUsage());
  });
  process.send?.({ port: server.port });
}

/** A raw client that upgrades (offering permessage-deflate or not) and then discards what it reads. */
async function rawClient(port: number, deflate: boolean): Promise<Socket> {
  const socket = tcpConnect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Protocol: echo-protocol\r\n${deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : ''}\r\n`,
  );
  const [head] = (await once(socket, 'data')) as [Buffer];
  const text = head.toString('latin1');
  if (!text.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${text.slice(0, 40)}`);
  if (deflate !== text.toLowerCase().includes('permessage-deflate')) throw new Error('unexpected negotiation');
  socket.on('data', () => {});
  return socket;
}

async function round(port: number, server: ReturnType<typeof fork>, deflate: boolean): Promise<number> {
  const clients: Socket[] = [];
  for (let i = 0; i < RECIPIENTS; i++) clients.push(await rawClient(port, deflate));
  const sender = await rawClient(port, false);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu = async (): Promise<number> => {
    server.send('cpu');
    const [usage] = (await once(server, 'message')) as [NodeJS.CpuUsage];
    return usage.user + usage.system;
  };
  const payload = { user: 'someone', text: 'a chat line, with some words in it. '.repeat(55) };
  const frame = encodeFrame(1, JSON.stringify({ type: 'broadcast', payload }), true, true);
  const start = await cpu();
  for (let i = 0; i < BROADCASTS; i++) {
    sender.write(frame);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const used = (await cpu()) - start;
  for (const client of [...clients, sender]) client.destroy();
  await new Promise((resolve) => setTimeout(resolve, 500));
  return used / BROADCASTS;
}

if (process.argv[2] === '--child') {
  await child();
} else {
  const server = fork(new URL(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx'] });
  const [{ port }] = (await once(server, 'message')) as [{ port: number }];
  const best = { plain: Number.POSITIVE_INFINITY, compressed: Number.POSITIVE_INFINITY };
  for (let r = 0; r < ROUNDS; r++) {
    for (const deflate of r % 2 === 0 ? [false, true] : [true, false]) {
      const us = await round(port, server, deflate);
      const key = deflate ? 'compressed' : 'plain';
      best[key] = Math.min(best[key], us);
      console.log(`round ${r + 1} ${key.padEnd(10)} ${us.toFixed(0).padStart(7)} µs server CPU per broadcast`);
    }
  }
  console.log(
    `${RECIPIENTS} recipients: best plain ${best.plain.toFixed(0)} µs, best compressed ${best.compressed.toFixed(0)} µs, ratio ${(best.compressed / best.plain).toFixed(2)}`,
  );
  server.kill();
}
