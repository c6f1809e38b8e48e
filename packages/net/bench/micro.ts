/**
 * Micro-benchmark: this package's receiver and sender against ws's, on the same frames.
 * Not a test (speed is never a timed unit test): a script that prints ops/s and the ratio.
 *
 *   pnpm --filter @socketlab/net bench:micro [-- --time=300 --rounds=6]
 *
 * Each case alternates the two contenders (swapping who goes first) for `rounds` rounds of
 * `time` ms each and reports the best round of each (interference on a shared machine only
 * ever slows a round down); net/ws > 1 means this package is faster. Both receivers unmask in
 * place, so both get a fresh copy of the input bytes before each push (the copy is the
 * same memcpy for both). Writes go through a real Writable into a counting sink: the cost
 * of framing and of the stream machinery, no syscalls.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Receiver as WsReceiver, Sender as WsSender } from 'ws';
import { Opcode } from '../src/constants.js';
import { simdMasking } from '../src/mask.js';
import { Receiver } from '../src/receiver.js';
import { encodeFrame, Sender } from '../src/sender.js';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key = '', value = ''] = arg.replace(/^--/, '').split('=');
    return [key, value] as const;
  }),
);
const TIME_MS = Number(args.get('time') ?? 300);
const ROUNDS = Number(args.get('rounds') ?? 6);
const MAX_PAYLOAD = 64 * 1024 * 1024;

/** Where the stand-in socket encodes strings: one reused buffer, no allocation. */
const encodeScratch = Buffer.allocUnsafe(4 * 1024 * 1024);

/**
 * Stands in for a socket: a real Writable (so write, cork and uncork cost what they cost on
 * a socket's stream machinery) whose sink counts bytes and drops them. A string is UTF-8
 * encoded in the sink, as a socket encodes it natively, so a sender that hands over strings
 * is not credited with skipping the encoding.
 */
class CountingSocket extends Writable {
  bytes = 0;
  constructor() {
    super({ decodeStrings: false, highWaterMark: 1 << 30 });
  }
  private take(chunk: Uint8Array | string): void {
    this.bytes += typeof chunk === 'string' ? encodeScratch.write(chunk) : chunk.length;
  }
  override _write(chunk: Uint8Array | string, _encoding: BufferEncoding, callback: () => void): void {
    this.take(chunk);
    callback();
  }
  override _writev(chunks: { chunk: Uint8Array | string }[], callback: () => void): void {
    for (const { chunk } of chunks) this.take(chunk);
    callback();
  }
}

interface Contender {
  /** Runs one batch; returns how many operations it did. */
  run(): number;
}

interface Case {
  name: string;
  net: Contender;
  ws: Contender;
}

const SLICE_NS = 5_000_000n;

/**
 * Runs batches for TIME_MS of wall time, yielding to the event loop every 5 ms as a server
 * does, so the deferred work of a stream write (its after-write ticks) is paid inside the
 * measured time instead of piling up.
 */
async function opsPerSecond(contender: Contender): Promise<number> {
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(TIME_MS) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    const sliceEnd = now + SLICE_NS;
    while (now < sliceEnd) {
      ops += contender.run();
      now = process.hrtime.bigint();
    }
    await new Promise((resolve) => setImmediate(resolve));
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

/** Best of the rounds: on a shared machine, interference only ever makes a round slower. */
const best = (values: number[]): number => Math.max(...values);

// ---- receivers ----------------------------------------------------------------------------

/** Masked client frames, as a server reads them: `count` frames of `payload`, in one chunk. */
function clientFrames(opcode: number, payload: string | Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => encodeFrame(opcode, payload, true, true)));
}

/** The same bytes fragmented: `parts` frames per message. */
function fragmentedFrames(payload: Buffer, parts: number): Buffer {
  const size = Math.ceil(payload.length / parts);
  const frames: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    const opcode = i === 0 ? Opcode.text : Opcode.continuation;
    frames.push(encodeFrame(opcode, payload.subarray(i * size, (i + 1) * size), i === parts - 1, true));
  }
  return Buffer.concat(frames);
}

function receiverCase(name: string, bytes: Buffer, messagesPerPush: number, chunkSize = bytes.length): Case {
  const work = Buffer.allocUnsafe(bytes.length);
  const chunks = (): Buffer[] => {
    bytes.copy(work);
    const out: Buffer[] = [];
    for (let at = 0; at < work.length; at += chunkSize) out.push(work.subarray(at, at + chunkSize));
    return out;
  };
  let netMessages = 0;
  const ours = new Receiver(
    { role: 'server', maxPayload: MAX_PAYLOAD },
    {
      // Text arrives decoded (the receiver validates by decoding), as a server needs it for JSON.parse.
      onText: () => {
        netMessages++;
      },
      onBinary: () => {
        netMessages++;
      },
      onPing: () => {},
      onPong: () => {},
      onClose: () => {
        throw new Error('unexpected close');
      },
      onError: (error) => {
        throw new Error(`unexpected error ${error.code} ${error.reason}`);
      },
    },
  );
  let wsMessages = 0;
  const theirs = new WsReceiver({ isServer: true, maxPayload: MAX_PAYLOAD, binaryType: 'nodebuffer' });
  theirs.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) data.toString('utf8');
    wsMessages++;
  });
  theirs.on('error', (error: Error) => {
    throw error;
  });
  return {
    name,
    net: {
      run: () => {
        const before = netMessages;
        for (const chunk of chunks()) ours.push(chunk);
        if (netMessages - before !== messagesPerPush) throw new Error(`net: ${netMessages - before} messages`);
        return messagesPerPush;
      },
    },
    ws: {
      run: () => {
        const before = wsMessages;
        for (const chunk of chunks()) theirs.write(chunk);
        if (wsMessages - before !== messagesPerPush) throw new Error(`ws: ${wsMessages - before} messages`);
        return messagesPerPush;
      },
    },
  };
}

// ---- senders ------------------------------------------------------------------------------

function senderCase(name: string, payload: string | Buffer, mask: boolean): Case {
  const netSocket = new CountingSocket();
  const wsSocket = new CountingSocket();
  const ours = new Sender(netSocket as unknown as Socket, mask);
  const theirs = new WsSender(wsSocket as unknown as Socket);
  const binary = typeof payload !== 'string';
  const options = { binary, mask, fin: true, compress: false, rsv1: false };
  const batch = 100;
  return {
    name,
    net: {
      run: () => {
        for (let i = 0; i < batch; i++) ours.send(binary ? Opcode.binary : Opcode.text, payload);
        return batch;
      },
    },
    ws: {
      run: () => {
        for (let i = 0; i < batch; i++) theirs.send(payload, options);
        return batch;
      },
    },
  };
}

/**
 * A broadcast to 100 recipients: this package frames once and writes the same frame to
 * each; the ws adapter encodes the text once and lets ws frame it per recipient.
 */
function broadcastCase(name: string, text: string, recipients: number): Case {
  const netSockets = Array.from({ length: recipients }, () => new CountingSocket());
  const ours = netSockets.map((socket) => new Sender(socket as unknown as Socket, false));
  const theirs = Array.from({ length: recipients }, () => new WsSender(new CountingSocket() as unknown as Socket));
  const options = { binary: false, mask: false, fin: true, compress: false, rsv1: false };
  return {
    name,
    net: {
      run: () => {
        const frame = encodeFrame(Opcode.text, text);
        for (const sender of ours) sender.sendFrame(frame);
        return 1;
      },
    },
    ws: {
      run: () => {
        const data = Buffer.from(text);
        for (const sender of theirs) sender.send(data, options);
        return 1;
      },
    },
  };
}

const json = (size: number): string => JSON.stringify({ type: 'echo', payload: 'x'.repeat(Math.max(0, size - 27)) });
const unicode = (size: number): string => JSON.stringify({ type: 'echo', payload: 'héllo wörld ✓ '.repeat(size / 20) });

const cases: Case[] = [
  receiverCase('receive: 100 text frames of 64 B in one chunk', clientFrames(Opcode.text, json(64), 100), 100),
  receiverCase('receive: 10 text frames of 1 KiB (unicode)', clientFrames(Opcode.text, unicode(1024), 10), 10),
  receiverCase('receive: binary 16 KiB', clientFrames(Opcode.binary, Buffer.alloc(16 * 1024, 7), 1), 1),
  receiverCase(
    'receive: binary 256 KiB in 64 KiB chunks',
    clientFrames(Opcode.binary, Buffer.alloc(256 * 1024, 7), 1),
    1,
    65_536,
  ),
  receiverCase('receive: text 256 KiB in 8 fragments', fragmentedFrames(Buffer.from(json(256 * 1024)), 8), 1),
  receiverCase('receive: 20 text frames of 64 B in 7-byte chunks', clientFrames(Opcode.text, json(64), 20), 20, 7),
  senderCase('send (server): text 64 B', json(64), false),
  senderCase('send (server): text 4 KiB', json(4096), false),
  senderCase('send (server): binary 64 KiB', Buffer.alloc(64 * 1024, 1), false),
  senderCase('send (client, masked): text 64 B', json(64), true),
  senderCase('send (client, masked): binary 64 KiB', Buffer.alloc(64 * 1024, 1), true),
  broadcastCase('broadcast: 200 B text to 100 recipients', json(200), 100),
];

/** ws masks with the native `bufferutil` addon when it can load it (here it comes with WebSocket-Node). */
function wsHasBufferutil(): boolean {
  try {
    const require = createRequire(createRequire(import.meta.url).resolve('ws'));
    require('bufferutil');
    return process.env.WS_NO_BUFFER_UTIL === undefined;
  } catch {
    return false;
  }
}

console.log(`micro-benchmark: @socketlab/net vs ws, best of ${ROUNDS} rounds of ${TIME_MS} ms each`);
console.log(
  `masking: net ${simdMasking ? 'WebAssembly SIMD' : 'JS words'}, ws ${wsHasBufferutil() ? 'bufferutil (native)' : 'JS bytes'}\n`,
);
const header = `${'case'.padEnd(48)} ${'net ops/s'.padStart(12)} ${'ws ops/s'.padStart(12)} ${'net/ws'.padStart(7)}`;
console.log(header);
console.log('-'.repeat(header.length));
const ratios: number[] = [];
for (const c of cases) {
  // Warm both up so the JIT has compiled each before it is timed.
  await opsPerSecond(c.net);
  await opsPerSecond(c.ws);
  const net: number[] = [];
  const ws: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      net.push(await opsPerSecond(c.net));
      ws.push(await opsPerSecond(c.ws));
    } else {
      ws.push(await opsPerSecond(c.ws));
      net.push(await opsPerSecond(c.net));
    }
  }
  const ratio = best(net) / best(ws);
  ratios.push(ratio);
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(12);
  console.log(`${c.name.padEnd(48)} ${fmt(best(net))} ${fmt(best(ws))} ${ratio.toFixed(2).padStart(7)}`);
}
const geomean = Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
console.log(`\ngeometric mean net/ws: ${geomean.toFixed(2)} (above 1: net is faster)`);
