import { once } from 'node:events';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Server,
  type Socket,
  connect as tcpConnect,
} from 'node:net';
import { within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../src/connection.js';
import { Opcode } from '../src/constants.js';
import { Receiver } from '../src/receiver.js';
import { encodeFrame } from '../src/sender.js';

/** A connected TCP pair on loopback: `near` is wrapped in a Connection, `far` plays the raw peer. */
async function socketPair(
  farOptions: { allowHalfOpen?: boolean } = {},
): Promise<{ near: Socket; far: Socket; server: Server }> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = tcpConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', ...farOptions });
  await once(far, 'connect');
  const [near] = await accepted;
  return { near, far, server };
}

/** Frames the raw peer received, decoded by an independent receiver of the other role. */
function framesOn(socket: Socket, role: 'server' | 'client') {
  const seen: { opcode: number; data: Buffer; code?: number }[] = [];
  let notify: () => void = () => {};
  const receiver = new Receiver(
    { role, maxPayload: 1 << 20 },
    {
      onText: (text) => seen.push({ opcode: Opcode.text, data: Buffer.from(text) }),
      onBinary: (data) => seen.push({ opcode: Opcode.binary, data }),
      onPing: (data) => seen.push({ opcode: Opcode.ping, data }),
      onPong: (data) => seen.push({ opcode: Opcode.pong, data }),
      onClose: (code) => seen.push({ opcode: Opcode.close, data: Buffer.alloc(0), code }),
      onError: (error) => seen.push({ opcode: -1, data: Buffer.alloc(0), code: error.code }),
    },
  );
  socket.on('data', (chunk: Buffer) => {
    receiver.push(chunk);
    notify();
  });
  const next = async (opcode: number): Promise<(typeof seen)[number]> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const at = seen.findIndex((frame) => frame.opcode === opcode);
      if (at >= 0) return seen.splice(at, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no frame with opcode ${opcode} within 5 s`);
      await new Promise<void>((resolve) => {
        notify = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  return { next };
}

describe('connection: closing handshake', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0)) fn();
  });
  const pair = async (farOptions: { allowHalfOpen?: boolean } = {}) => {
    const made = await socketPair(farOptions);
    cleanup.push(() => {
      made.far.destroy();
      made.near.destroy();
      made.server.close();
    });
    return made;
  };

  it('destroys the socket when the peer never answers a close, and reports 1006', async () => {
    const { near, far } = await pair();
    const conn = new Connection(near, { role: 'server', maxPayload: 1024, closeTimeout: 200 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    conn.close(1000, 'bye');
    expect((await frames.next(Opcode.close)).code).toBe(1000);
    expect(await within(conn.closed, 5_000, 'the close timeout to destroy the socket')).toStrictEqual({
      code: 1006,
      reason: '',
    });
    expect(near.destroyed).toBe(true);
  });

  it('completes a server-initiated close: the peer echoes, the server ends TCP, code is the peer’s', async () => {
    const { near, far } = await pair();
    const conn = new Connection(near, { role: 'server', maxPayload: 1024, closeTimeout: 5_000 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    conn.close(1001, 'going');
    expect((await frames.next(Opcode.close)).code).toBe(1001);
    far.write(encodeFrame(Opcode.close, Buffer.from([0x03, 0xe9]), true, true));
    expect(await within(conn.closed, 5_000, 'the handshake to finish')).toStrictEqual({ code: 1001, reason: '' });
  });

  it('answers a ping with its payload, reports pongs, and sends nothing after its close', async () => {
    const { near, far } = await pair();
    const pongs: string[] = [];
    const conn = new Connection(near, {
      role: 'server',
      maxPayload: 1024,
      listener: { pong: (_, data) => pongs.push(data.toString()) },
    });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    far.write(encodeFrame(Opcode.ping, 'hi', true, true));
    expect((await frames.next(Opcode.pong)).data.toString()).toBe('hi');
    conn.ping(Buffer.from('yo'));
    expect((await frames.next(Opcode.ping)).data.toString()).toBe('yo');
    far.write(encodeFrame(Opcode.pong, 'yo', true, true));
    far.write(encodeFrame(Opcode.close, Buffer.from([0x03, 0xe8]), true, true));
    expect((await frames.next(Opcode.close)).code).toBe(1000);
    expect(pongs).toStrictEqual(['yo']);
    conn.sendText('too late');
    await within(conn.closed, 5_000, 'the close');
  });

  it('stops answering pings while its pong backlog is over the limit (a ping flood from a peer that does not read)', async () => {
    const { near, far } = await pair();
    const limit = 64 * 1024;
    let backlogAtMarker = -1;
    const conn = new Connection(near, {
      role: 'server',
      maxPayload: 1024,
      pongBacklogLimit: limit,
      listener: {
        text: () => {
          backlogAtMarker = near.writableLength;
        },
      },
    });
    conn.start(Buffer.alloc(0));
    far.pause();
    // 10 MB of pings: far more than loopback kernel buffers, so without the limit pongs would pile up.
    const ping = encodeFrame(Opcode.ping, Buffer.alloc(125, 1), true, true);
    for (let i = 0; i < 80; i++) far.write(Buffer.concat(Array.from({ length: 1000 }, () => ping)));
    far.write(encodeFrame(Opcode.text, 'marker', true, true));
    const deadline = Date.now() + 10_000;
    while (backlogAtMarker < 0) {
      if (Date.now() > deadline) throw new Error('the marker message did not arrive within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(backlogAtMarker).toBeGreaterThan(0);
    expect(backlogAtMarker).toBeLessThanOrEqual(limit + 131);
  });

  it('fails only this connection with 1011 when a message handler throws', async () => {
    const { near, far } = await pair();
    const errors: unknown[] = [];
    const conn = new Connection(near, {
      role: 'server',
      maxPayload: 1024,
      listener: {
        text: () => {
          throw new Error('handler bug');
        },
        handlerError: (_, error) => errors.push(error),
      },
    });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    far.write(encodeFrame(Opcode.text, 'boom', true, true));
    expect((await frames.next(Opcode.close)).code).toBe(1011);
    expect((await within(conn.closed, 5_000, 'the failed connection to close')).code).toBe(1006);
    expect(errors).toHaveLength(1);
  });

  // The peers below keep their side open after the server's FIN (allowHalfOpen): they never
  // send theirs. The close timeout is far beyond any wait here: only the linger can end them.
  it('finishes as soon as a peer-initiated close is answered, and destroys a peer that never sends its FIN after the linger', async () => {
    const { near, far } = await pair({ allowHalfOpen: true });
    const conn = new Connection(near, { role: 'server', maxPayload: 1024, closeTimeout: 600_000, closeLinger: 200 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    const farEnded = once(far, 'end');
    far.write(encodeFrame(Opcode.close, Buffer.from([0x03, 0xe8]), true, true));
    expect((await frames.next(Opcode.close)).code).toBe(1000);
    await within(conn.finished, 5_000, 'the connection to finish once the close is answered');
    expect(near.destroyed).toBe(false);
    // RFC 6455 7.1.1: the server closes TCP first.
    await within(farEnded, 5_000, 'the server FIN');
    expect(await within(conn.closed, 4_000, 'the linger to destroy the half-open socket')).toStrictEqual({
      code: 1000,
      reason: '',
    });
    expect(near.destroyed).toBe(true);
  });

  it('finishes when it fails the connection, and destroys a peer that never sends its FIN after the linger', async () => {
    const { near, far } = await pair({ allowHalfOpen: true });
    const conn = new Connection(near, { role: 'server', maxPayload: 1024, closeTimeout: 600_000, closeLinger: 200 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    far.write(encodeFrame(Opcode.text, 'unmasked from a client'));
    expect((await frames.next(Opcode.close)).code).toBe(1002);
    await within(conn.finished, 5_000, 'the failed connection to finish');
    expect((await within(conn.closed, 4_000, 'the linger to destroy the half-open socket')).code).toBe(1006);
  });

  it('does not finish while its own close awaits the answer', async () => {
    const { near, far } = await pair();
    const conn = new Connection(near, { role: 'server', maxPayload: 1024, closeTimeout: 5_000 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    let finished = false;
    void conn.finished.then(() => {
      finished = true;
    });
    conn.close(1001, 'going');
    expect((await frames.next(Opcode.close)).code).toBe(1001);
    expect(finished).toBe(false);
    far.write(encodeFrame(Opcode.close, Buffer.from([0x03, 0xe9]), true, true));
    await within(conn.finished, 5_000, 'the answered close to finish the connection');
  });

  it('fails a server frame that is masked: sends 1002 and reports 1006 (no close frame received)', async () => {
    const { near, far } = await pair();
    const conn = new Connection(near, { role: 'client', maxPayload: 1024, closeTimeout: 300 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'server');
    far.write(encodeFrame(Opcode.text, 'masked by a server', true, true));
    expect((await frames.next(Opcode.close)).code).toBe(1002);
    expect((await within(conn.closed, 5_000, 'the failed connection to close')).code).toBe(1006);
  });
});

describe('connection: misuse by its owner', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0)) fn();
  });
  const pair = async () => {
    const made = await socketPair();
    cleanup.push(() => {
      made.far.destroy();
      made.near.destroy();
      made.server.close();
    });
    return made;
  };

  it('refuses a close reason over 123 bytes and an unsendable code at the call, and stays open', async () => {
    const { near, far } = await pair();
    const conn = new Connection(near, { role: 'server', maxPayload: 1024 });
    conn.start(Buffer.alloc(0));
    const frames = framesOn(far, 'client');
    expect(() => conn.close(1000, 'é'.repeat(62))).toThrow(RangeError);
    for (const code of [1005, 999, 1006, 1015, 5000, 1000.5]) expect(() => conn.close(code)).toThrow(RangeError);
    expect(() => conn.close(undefined, 'a reason without a code')).toThrow(RangeError);
    expect(conn.state).toBe('open');
    // Still fully usable: a message, then a valid close at the 123-byte limit.
    conn.sendText('still open');
    expect((await frames.next(Opcode.text)).data.toString()).toBe('still open');
    conn.close(4000, 'r'.repeat(123));
    expect((await frames.next(Opcode.close)).code).toBe(4000);
    expect(conn.state).toBe('closing');
  });

  it('delivers nothing after terminate() inside a handler, not even the rest of the chunk', async () => {
    const { near, far } = await pair();
    const texts: string[] = [];
    const conn = new Connection(near, {
      role: 'server',
      maxPayload: 1024,
      listener: {
        text: (c, text) => {
          texts.push(text);
          if (text === 'stop') c.terminate();
        },
      },
    });
    conn.start(Buffer.alloc(0));
    far.write(
      Buffer.concat(['one', 'stop', 'after', 'more'].map((text) => encodeFrame(Opcode.text, text, true, true))),
    );
    await within(conn.closed, 5_000, 'the terminated connection to close');
    expect(texts).toStrictEqual(['one', 'stop']);
  });
});

describe('connection: abnormal loss', () => {
  it('reports 1006 when the peer vanishes without a close frame, after the messages that did arrive', async () => {
    const { near, far, server } = await socketPair();
    try {
      const texts: string[] = [];
      const conn = new Connection(near, {
        role: 'client',
        maxPayload: 1024,
        listener: { text: (_, text) => texts.push(text) },
      });
      conn.start(Buffer.alloc(0));
      far.end(encodeFrame(Opcode.text, 'last words'));
      expect(await within(conn.closed, 5_000, 'the loss to be seen')).toStrictEqual({ code: 1006, reason: '' });
      expect(texts).toStrictEqual(['last words']);
    } finally {
      server.close();
    }
  });
});
