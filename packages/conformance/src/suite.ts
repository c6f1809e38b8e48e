import {
  type Adapter,
  CloseCode,
  type ConnectOptions,
  DEFAULTS,
  HandshakeError,
  type RealtimeClient,
  type ServerOptions,
} from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { eventually, type Harness, useHarness, within } from './harness.js';
import { acceptKeyFor, closePayload, encodeFrame, Opcode, randomKey, upgradeRequestText } from './raw.js';

export interface ConformanceOptions {
  /** The adapter whose client drives the server; default the adapter itself (the interop matrix passes another). */
  client?: Adapter;
  /** Merged into every connect (socket.io: `{ transport: 'polling' }`). */
  connect?: ConnectOptions;
  /** Shown in the suite's name. */
  label?: string;
  /** `client`: only the groups that go through a client, not the raw-wire ones (interop pairs). */
  groups?: 'all' | 'client';
}

const HEAVY = 60_000;
const KiB = 1024;

/**
 * Declares every clause of CONTRACT.md sections 1-4 as vitest cases against `adapter`.
 * Each case starts its own server on port 0. Groups a transport cannot express are
 * chosen by `adapter.capabilities`, never by name.
 */
export function describeConformance(adapter: Adapter, options: ConformanceOptions = {}): void {
  const clientAdapter = options.client ?? adapter;
  const caps = adapter.capabilities;
  const title = `conformance: ${adapter.name}${options.client ? ` server, ${clientAdapter.name} client` : ''}${options.label ? ` (${options.label})` : ''}`;

  describe(title, () => {
    const h = useHarness(adapter, clientAdapter, options.connect ?? {});
    presence(h);
    echo(h, caps.binaryPayloads);
    if (caps.binaryMessages) binary(h);
    broadcast(h);
    ordering(h);
    badRequests(h, caps.requestForm);
    origin(h);
    if (caps.websocketProtocol) subprotocol(h);
    limits(h, caps.closeCodes, caps.binaryMessages);
    slowConsumer(h);
    heartbeat(h);
    shutdown(h, caps.closeCodes);
    concurrency(h);
    if (caps.websocketProtocol && options.groups !== 'client') {
      rawHandshake(h);
      rawFrames(h);
    }
  });
}

function presence(h: Harness): void {
  describe('presence (section 1)', () => {
    it('welcomes first, announces joins to the others and leaves to those remaining', async () => {
      await h.start();
      const a = await h.join();
      const b = await h.join();
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });
      const c = await h.join();
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: c.id });
      expect(await b.client.receive()).toStrictEqual({ type: 'join', id: c.id });
      expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      expect(h.server.connectionCount).toBe(3);

      await c.client.close();
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: c.id });
      expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: c.id });
      b.client.terminate();
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: b.id });
      await eventually(() => h.server.connectionCount === 1, 5_000, 'connection count back to 1');
    });
  });
}

function echo(h: Harness, binaryPayloads: boolean): void {
  describe('echo (section 1)', () => {
    const payloads: [string, unknown][] = [
      ['null', null],
      ['a number', 42.5],
      ['false', false],
      ['an empty string', ''],
      ['an array', [1, 'two', [3], { four: 4 }]],
      ['a nested object', { a: { b: { c: [true, null, { d: 'e' }] } }, n: -0.125 }],
      ['unicode', { text: 'héllo wörld ✓ 日本語 🚀👩‍👩‍👧 \u0000 \u2028', key_é: 'ü' }],
    ];
    it.each(payloads)('returns %s deep-equal', async (_name, payload) => {
      await h.start();
      const { client } = await h.join();
      client.send({ type: 'echo', payload });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload });
    });

    it('returns a ~512 KiB payload deep-equal', async () => {
      await h.start();
      const { client } = await h.join();
      const payload = { blob: 'x'.repeat(512 * KiB - 64), tail: '✓' };
      client.send({ type: 'echo', payload });
      expect(await client.receive('echo', 15_000)).toStrictEqual({ type: 'echo', payload });
    });

    it('answers the sender alone', async () => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      a.client.send({ type: 'echo', payload: 'private' });
      a.client.send({ type: 'broadcast', payload: 'marker' });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 'marker' });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: 'private' });
    });

    if (binaryPayloads) {
      it('returns binary inside a payload as binary', async () => {
        await h.start();
        const { client } = await h.join();
        const bytes = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
        client.send({ type: 'echo', payload: { name: 'file.bin', data: bytes } });
        const reply = await client.receive('echo');
        const data = (reply.payload as { data: Uint8Array }).data;
        expect(data).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(data).equals(Buffer.from(bytes))).toBe(true);
        expect((reply.payload as { name: string }).name).toBe('file.bin');
      });
    }
  });
}

function binary(h: Harness): void {
  describe('binary messages (section 1)', () => {
    it.each([0, 1, 64 * KiB])('echoes %i bytes exactly, to the sender alone', async (size) => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) % 256);
      a.client.sendBinary(bytes);
      a.client.send({ type: 'broadcast', payload: 'after' });
      const reply = await a.client.receive();
      expect(reply.type).toBe('binary');
      if (reply.type === 'binary') expect(Buffer.from(reply.data).equals(Buffer.from(bytes))).toBe(true);
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 'after' });
    });
  });
}

function broadcast(h: Harness): void {
  describe('broadcast (section 1)', () => {
    it('reaches every client, the sender first gets its copy then the result with the recipient count', async () => {
      await h.start();
      const [a, b, c] = await h.joinAll(3);
      const payload = { text: 'hello all', n: [1, 2, 3] };
      a.client.send({ type: 'broadcast', payload });
      const copy = { type: 'broadcast', from: a.id, payload };
      expect(await a.client.receive()).toStrictEqual(copy);
      expect(await a.client.receive()).toStrictEqual({ type: 'broadcastResult', payload, recipients: 3 });
      expect(await b.client.receive()).toStrictEqual(copy);
      expect(await c.client.receive()).toStrictEqual(copy);
    });

    it('counts only the connections present', async () => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      b.client.terminate();
      expect(await a.client.receive('leave')).toStrictEqual({ type: 'leave', id: b.id });
      a.client.send({ type: 'broadcast', payload: 1 });
      await a.client.receive('broadcast');
      expect(await a.client.receive('broadcastResult')).toStrictEqual({
        type: 'broadcastResult',
        payload: 1,
        recipients: 1,
      });
    });
  });
}

function ordering(h: Harness): void {
  describe('ordering (section 1)', () => {
    it(
      'keeps 1,000 pipelined echoes in order',
      async () => {
        await h.start();
        const { client } = await h.join();
        for (let i = 0; i < 1000; i++) client.send({ type: 'echo', payload: { seq: i } });
        for (let i = 0; i < 1000; i++) {
          expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { seq: i } });
        }
      },
      HEAVY,
    );

    it('answers mixed requests in the order sent', async () => {
      await h.start();
      const { client, id } = await h.join();
      client.send({ type: 'echo', payload: 1 });
      client.send({ type: 'broadcast', payload: 2 });
      client.send({ type: 'echo', payload: 3 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'broadcast', from: id, payload: 2 });
      expect(await client.receive()).toStrictEqual({ type: 'broadcastResult', payload: 2, recipients: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 3 });
    });
  });
}

function badRequests(h: Harness, form: 'text' | 'event'): void {
  const error = { type: 'error', code: 'bad_request', message: expect.any(String) };
  const cases: [string, (client: RealtimeClient) => void][] =
    form === 'text'
      ? [
          ['text that is not JSON', (c) => c.sendText!('hello?')],
          ['a JSON array', (c) => c.sendText!('[1,2]')],
          ['a JSON string', (c) => c.sendText!('"echo"')],
          ['JSON null', (c) => c.sendText!('null')],
          ['an object without type', (c) => c.sendText!('{"payload":1}')],
          ['a non-string type', (c) => c.sendText!('{"type":1,"payload":1}')],
          ['an unknown type', (c) => c.sendText!('{"type":"shout","payload":1}')],
          ['an echo without payload', (c) => c.sendText!('{"type":"echo"}')],
          ['a broadcast without payload', (c) => c.sendText!('{"type":"broadcast","extra":1}')],
          ['an empty text', (c) => c.sendText!('')],
        ]
      : [
          ['a string argument', (c) => c.emit!('echo', 'hello')],
          ['an array argument', (c) => c.emit!('echo', [1, 2])],
          ['no argument', (c) => c.emit!('broadcast')],
          ['an object without payload', (c) => c.emit!('echo', { other: 1 })],
          ['an unknown event', (c) => c.emit!('shout', { payload: 1 })],
        ];
  describe('bad requests (section 1)', () => {
    it.each(cases)('answers %s with bad_request and keeps the connection', async (_name, sendBad) => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      sendBad(a.client);
      expect(await a.client.receive()).toStrictEqual(error);
      a.client.send({ type: 'echo', payload: 'still here' });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: 'still here' });
      // Only the sender was answered: b's next message is a's later broadcast.
      a.client.send({ type: 'broadcast', payload: 'marker' });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 'marker' });
    });

    it('ignores extra fields in a valid request', async () => {
      await h.start();
      const { client } = await h.join();
      if (form === 'text') client.sendText!('{"type":"echo","payload":[1],"id":"x","from":"y"}');
      else client.emit!('echo', { payload: [1], id: 'x', from: 'y' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: [1] });
    });
  });
}

function origin(h: Harness): void {
  describe('origin allowlist (section 3)', () => {
    it.each([
      ['no Origin header', undefined],
      ['http://localhost', 'http://localhost'],
      ['http://localhost:5173', 'http://localhost:5173'],
      ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ])('accepts %s by default', async (_name, value) => {
      await h.start();
      const { client } = await h.join(value === undefined ? {} : { origin: value });
      client.send({ type: 'echo', payload: 'ok' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'ok' });
    });

    it.each([
      'http://evil.example',
      'https://localhost',
      'http://localhost.evil.example',
      'null',
    ])('refuses %s with 403 and serves the others', async (value) => {
      await h.start();
      const { client } = await h.join();
      const refused = h.connect({ origin: value });
      await expect(refused).rejects.toBeInstanceOf(HandshakeError);
      await expect(refused).rejects.toMatchObject({ status: 403 });
      expect(h.server.connectionCount).toBe(1);
      client.send({ type: 'echo', payload: 'fine' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'fine' });
    });

    it('takes a configured allowlist, and * allows all', async () => {
      await h.start({ allowedOrigins: ['https://app.example'] });
      await h.join({ origin: 'https://app.example' });
      await expect(h.connect({ origin: 'http://localhost' })).rejects.toMatchObject({ status: 403 });
      await h.server.close();
      await h.start({ allowedOrigins: ['*'] });
      await h.join({ origin: 'http://evil.example' });
    });
  });
}

function subprotocol(h: Harness): void {
  describe('subprotocol (section 3)', () => {
    it('selects echo-protocol when offered', async () => {
      await h.start();
      const { client } = await h.join({ protocols: ['echo-protocol'] });
      expect(client.protocol).toBe('echo-protocol');
    });
    it('selects echo-protocol among others', async () => {
      await h.start();
      const { client } = await h.join({ protocols: ['chat', 'echo-protocol'] });
      expect(client.protocol).toBe('echo-protocol');
    });
    it('accepts a client that offers none (a plain browser)', async () => {
      await h.start({ requireProtocol: false });
      const { client } = await h.join({ protocols: [] });
      expect(client.protocol).toBe('');
      client.send({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
    });
    it('refuses a client that offers only other subprotocols before upgrade', async () => {
      await h.start();
      await expect(h.connect({ protocols: ['chat', 'superchat'] })).rejects.toMatchObject({ status: 400 });
      expect(h.server.connectionCount).toBe(0);
    });
    it('with requireProtocol, refuses a client that offers none', async () => {
      await h.start({ requireProtocol: true });
      await expect(h.connect({ protocols: [] })).rejects.toMatchObject({ status: 400 });
      const { client } = await h.join({ protocols: ['echo-protocol'] });
      expect(client.protocol).toBe('echo-protocol');
    });
  });
}

function limits(h: Harness, closeCodes: boolean, binaryMessages: boolean): void {
  const expectClosedTooBig = async (client: RealtimeClient): Promise<void> => {
    const info = await within(client.closed, 10_000, 'the over-limit client to be closed');
    if (closeCodes) expect(info.code).toBe(CloseCode.messageTooBig);
  };
  describe('max message size (section 4)', () => {
    it('closes a text message over the default 1 MiB with 1009; the others go on', async () => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      a.client.send({ type: 'echo', payload: 'y'.repeat(DEFAULTS.maxPayload) });
      await expectClosedTooBig(a.client);
      expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: a.id });
      b.client.send({ type: 'echo', payload: 'unaffected' });
      expect(await b.client.receive()).toStrictEqual({ type: 'echo', payload: 'unaffected' });
    });

    it('accepts a message just under a configured limit and closes one just over it', async () => {
      const limit = 64 * KiB;
      await h.start({ maxPayload: limit });
      const [a, b] = await h.joinAll(2);
      const under = 'u'.repeat(limit - 1024);
      a.client.send({ type: 'echo', payload: under });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: under });
      a.client.send({ type: 'echo', payload: 'o'.repeat(limit + 1) });
      await expectClosedTooBig(a.client);
      expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: a.id });
      expect(h.server.connectionCount).toBe(1);
    });

    if (binaryMessages) {
      it('closes a binary message over the limit with 1009', async () => {
        await h.start({ maxPayload: 16 * KiB });
        const { client } = await h.join();
        client.sendBinary(new Uint8Array(16 * KiB + 1));
        await expectClosedTooBig(client);
      });
    }
  });
}

function slowConsumer(h: Harness): void {
  describe('slow consumer (section 4)', () => {
    it(
      'drops a client that stops reading; its peers receive the whole flood; buffers stay bounded',
      async () => {
        const outboundLimit = 1024 * KiB;
        const messageSize = 64 * KiB;
        const count = 320; // 20 MiB to each reader: far beyond kernel buffers plus the limit
        await h.start({ outboundLimit });
        const [sender, reader, slow] = await h.joinAll(3);
        slow.client.pauseReading();
        const body = 'f'.repeat(messageSize);
        const leave = reader.client.receive('leave', HEAVY);
        // Paced in windows well under the limit, so only the client that stopped reading falls behind.
        // The sender gets two messages per broadcast (its copy and the result): 4 keep it at half the
        // limit even where the server can only deliver when the client asks (socket.io polling).
        const window = 4;
        for (let start = 0; start < count; start += window) {
          for (let i = start; i < start + window; i++) sender.client.send({ type: 'broadcast', payload: { i, body } });
          for (let i = start; i < start + window; i++) {
            const message = await reader.client.receive('broadcast', 30_000);
            expect(message).toStrictEqual({ type: 'broadcast', from: sender.id, payload: { i, body } });
            await sender.client.receive('broadcast', 30_000);
            await sender.client.receive('broadcastResult', 30_000);
          }
        }
        expect(await leave).toStrictEqual({ type: 'leave', id: slow.id });
        const { peakBufferedBytes } = h.server.stats();
        expect(peakBufferedBytes).toBeGreaterThan(0);
        // One message may land on top of the limit before the check drops the connection.
        expect(peakBufferedBytes).toBeLessThanOrEqual(outboundLimit + 2 * (messageSize + KiB));
        expect(h.server.connectionCount).toBe(2);
      },
      HEAVY,
    );
  });
}

function heartbeat(h: Harness): void {
  describe('heartbeat (section 4)', () => {
    it(
      'terminates a peer that stops answering pings and tells the others; live peers stay',
      async () => {
        const interval = 1_000;
        await h.start({ heartbeatInterval: interval });
        const [live, dead] = await h.joinAll(2);
        dead.client.pauseReading();
        expect(await live.client.receive('leave', 10 * interval)).toStrictEqual({ type: 'leave', id: dead.id });
        // The live client has answered at least two pings by now and is still served.
        live.client.send({ type: 'echo', payload: 'alive' });
        expect(await live.client.receive('echo')).toStrictEqual({ type: 'echo', payload: 'alive' });
        expect(h.server.connectionCount).toBe(1);
      },
      HEAVY,
    );
  });
}

function shutdown(h: Harness, closeCodes: boolean): void {
  describe('shutdown (section 4)', () => {
    it('sends 1001 to every client and resolves', async () => {
      await h.start();
      const joined = await h.joinAll(3);
      await within(h.server.close(), 10_000, 'server.close()');
      for (const { client } of joined) {
        const info = await within(client.closed, 5_000, 'client to see the close');
        if (closeCodes) expect(info.code).toBe(CloseCode.goingAway);
      }
      expect(h.server.connectionCount).toBe(0);
    });

    it(
      'terminates a client that does not complete the closing handshake after the shutdown timeout',
      async () => {
        await h.start({ shutdownTimeout: 300 });
        const [polite, stuck] = await h.joinAll(2);
        stuck.client.pauseReading();
        await within(h.server.close(), 10_000, 'server.close() with a stuck client');
        const info = await within(polite.client.closed, 5_000, 'the polite client to see the close');
        if (closeCodes) expect(info.code).toBe(CloseCode.goingAway);
        expect(h.server.connectionCount).toBe(0);
      },
      HEAVY,
    );
  });
}

function concurrency(h: Harness): void {
  describe('concurrency (section 1)', () => {
    it(
      '200 clients broadcasting at once: every message delivered exactly once',
      async () => {
        const n = 200;
        await h.start();
        const joined = [];
        for (let batch = 0; batch < n; batch += 50) {
          joined.push(...(await Promise.all(Array.from({ length: Math.min(50, n - batch) }, () => h.join()))));
        }
        const ids = joined.map((j) => j.id);
        expect(new Set(ids).size).toBe(n);
        for (const { client } of joined) client.send({ type: 'broadcast', payload: { from: 'test' } });
        await Promise.all(
          joined.map(async ({ client, id }) => {
            const seen = new Map<string, number>();
            for (let i = 0; i < n; i++) {
              const message = await client.receive('broadcast', 30_000);
              seen.set(message.from, (seen.get(message.from) ?? 0) + 1);
            }
            expect([...seen.keys()].sort()).toEqual([...ids].sort());
            expect([...seen.values()].every((count) => count === 1)).toBe(true);
            const result = await client.receive('broadcastResult', 30_000);
            expect(result.recipients).toBe(n);
            // Every broadcast was handled before this echo; a duplicate would precede its reply.
            client.send({ type: 'echo', payload: id });
            await client.receive('echo', 30_000);
            expect(client.pending().filter((m) => m.type === 'broadcast')).toHaveLength(0);
          }),
        );
      },
      HEAVY * 2,
    );
  });
}

function rawHandshake(h: Harness): void {
  describe('handshake on the wire (section 3)', () => {
    it('answers 101 with the RFC 6455 accept key and echo-protocol', async () => {
      await h.start();
      const peer = await h.raw();
      const key = randomKey();
      peer.write(upgradeRequestText(`127.0.0.1:${h.server.port}`, { key, protocols: ['echo-protocol'] }));
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers.upgrade?.toLowerCase()).toBe('websocket');
      expect(head.headers.connection?.toLowerCase()).toContain('upgrade');
      expect(head.headers['sec-websocket-accept']).toBe(acceptKeyFor(key));
      expect(head.headers['sec-websocket-protocol']).toBe('echo-protocol');
      const welcome = await peer.readFrame();
      expect(welcome.opcode).toBe(Opcode.text);
      expect(welcome.masked).toBe(false);
      expect(JSON.parse(welcome.payload.toString())).toMatchObject({ type: 'welcome' });
    });

    it('sends no Sec-WebSocket-Protocol when none was offered', async () => {
      // Offering none is only accepted when the server does not require the subprotocol.
      await h.start({ requireProtocol: false });
      const peer = await h.raw();
      peer.write(upgradeRequestText(`127.0.0.1:${h.server.port}`));
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers['sec-websocket-protocol']).toBeUndefined();
    });

    const refusals: [string, (host: string) => string, number][] = [
      ['a plain HTTP GET', (host) => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 426],
      ['a POST upgrade', (host) => upgradeRequestText(host, { method: 'POST' }), 405],
      ['a missing key', (host) => upgradeRequestText(host, { key: null }), 400],
      ['a key that is not 16 bytes', (host) => upgradeRequestText(host, { key: 'c2hvcnQ=' }), 400],
      ['version 8', (host) => upgradeRequestText(host, { version: '8' }), 426],
      ['no version', (host) => upgradeRequestText(host, { version: null }), 426],
      ['no Host header', (host) => upgradeRequestText(host).replace(/^Host: .*\r\n/m, ''), 400],
      ['a foreign origin', (host) => upgradeRequestText(host, { origin: 'http://evil.example' }), 403],
      ['an empty Origin header', (host) => upgradeRequestText(host, { origin: '' }), 403],
      [
        'an empty Sec-WebSocket-Protocol header',
        (host) => upgradeRequestText(host, { extraHeaders: { 'Sec-WebSocket-Protocol': '' } }),
        400,
      ],
      ['a head of 16 KiB + 1 byte', (host) => headOfSize(host, 16 * KiB + 1), 431],
      ['only other subprotocols', (host) => upgradeRequestText(host, { protocols: ['chat'] }), 400],
      [
        'a head over 16 KiB',
        (host) => upgradeRequestText(host, { extraHeaders: { 'X-Pad': 'p'.repeat(17 * KiB) } }),
        431,
      ],
      ['garbage', () => '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n', 400],
    ];
    it.each(refusals)('refuses %s with the proper 4xx, closes, and goes on serving', async (_name, request, status) => {
      await h.start();
      const peer = await h.raw();
      peer.write(request(`127.0.0.1:${h.server.port}`));
      const head = await peer.readHead();
      expect(head.status).toBe(status);
      if (status === 426 && request('x').includes('Sec-WebSocket-Key')) {
        expect(head.headers['sec-websocket-version']).toBe('13');
      }
      await peer.waitEnd();
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 'after' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'after' });
    });

    it('accepts a head of exactly 16 KiB', async () => {
      await h.start();
      const peer = await h.raw();
      const text = headOfSize(`127.0.0.1:${h.server.port}`, 16 * KiB);
      expect(Buffer.byteLength(text)).toBe(16 * KiB);
      peer.write(text);
      expect((await peer.readHead()).status).toBe(101);
    });

    it('takes a request head that arrives one byte at a time', async () => {
      await h.start();
      const peer = await h.raw();
      const key = randomKey();
      const text = upgradeRequestText(`127.0.0.1:${h.server.port}`, { key, protocols: ['echo-protocol'] });
      for (const byte of Buffer.from(text)) {
        peer.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers['sec-websocket-accept']).toBe(acceptKeyFor(key));
    });

    it('closes a head not complete within the handshake timeout (slowloris), and goes on serving', async () => {
      await h.start({ handshakeTimeout: 300 });
      const peer = await h.raw();
      peer.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
      await peer.waitEnd(5_000);
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
    });

    it('does not extend the handshake timeout for a head that keeps trickling in', async () => {
      await h.start({ handshakeTimeout: 300 });
      const peer = await h.raw();
      peer.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const trickle = setInterval(() => peer.isEnded || peer.write('x'), 50);
      try {
        await peer.waitEnd(5_000);
      } finally {
        clearInterval(trickle);
      }
    });

    it('reads Upgrade and Connection as case-insensitive token lists', async () => {
      await h.start();
      const peer = await h.raw();
      const key = randomKey();
      const text = upgradeRequestText(`127.0.0.1:${h.server.port}`, { key, protocols: ['echo-protocol'] })
        .replace('Upgrade: websocket', 'Upgrade: WebSocket')
        .replace('Connection: Upgrade', 'Connection: keep-alive, UPGRADE');
      peer.write(text);
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers['sec-websocket-accept']).toBe(acceptKeyFor(key));
    });

    it('takes frames that arrive in the same write as the request head', async () => {
      await h.start();
      const peer = await h.raw();
      const head = upgradeRequestText(`127.0.0.1:${h.server.port}`, { protocols: ['echo-protocol'] });
      const echo = encodeFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'echo', payload: 'early' }) });
      peer.write(Buffer.concat([Buffer.from(head), echo]));
      expect((await peer.readHead()).status).toBe(101);
      expect(JSON.parse((await peer.readFrame()).payload.toString())).toMatchObject({ type: 'welcome' });
      expect(JSON.parse((await peer.readFrame()).payload.toString())).toStrictEqual({ type: 'echo', payload: 'early' });
    });
  });
}

function rawFrames(h: Harness): void {
  describe('frames on the wire (section 4)', () => {
    /** A raw peer past its handshake and welcome, plus a normal client watching it. */
    const setup = async (options: ServerOptions = {}) => {
      await h.start(options);
      const watcher = await h.join();
      const peer = await h.rawUpgraded();
      const welcome = JSON.parse((await peer.readFrame()).payload.toString()) as { id: string };
      expect(await watcher.client.receive()).toStrictEqual({ type: 'join', id: welcome.id });
      return { peer, watcher, peerId: welcome.id };
    };
    const expectOthersUnaffected = async (watcher: { client: RealtimeClient }, peerId: string) => {
      expect(await watcher.client.receive()).toStrictEqual({ type: 'leave', id: peerId });
      watcher.client.send({ type: 'echo', payload: 'unaffected' });
      expect(await watcher.client.receive()).toStrictEqual({ type: 'echo', payload: 'unaffected' });
    };

    const violations: [
      string,
      number,
      { opcode: number; payload?: Buffer | string; fin?: boolean; rsv?: number; mask?: boolean }[],
    ][] = [
      [
        'invalid UTF-8 in a text frame',
        1007,
        [{ opcode: Opcode.text, payload: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }],
      ],
      [
        'invalid UTF-8 split across fragments',
        1007,
        [
          { opcode: Opcode.text, payload: Buffer.from([0x61, 0xf0, 0x9f]), fin: false },
          { opcode: Opcode.continuation, payload: Buffer.from([0x28, 0x61]) },
        ],
      ],
      [
        'a UTF-16 surrogate encoded in UTF-8',
        1007,
        [{ opcode: Opcode.text, payload: Buffer.from([0xed, 0xa0, 0x80]) }],
      ],
      ['an unmasked client frame', 1002, [{ opcode: Opcode.text, payload: '{}', mask: false }]],
      ['RSV1 without an extension', 1002, [{ opcode: Opcode.text, payload: '{}', rsv: 4 }]],
      ['RSV2', 1002, [{ opcode: Opcode.binary, payload: 'x', rsv: 2 }]],
      ['RSV3', 1002, [{ opcode: Opcode.text, payload: '{}', rsv: 1 }]],
      ['reserved data opcode 3', 1002, [{ opcode: 3, payload: 'x' }]],
      ['reserved control opcode 0xB', 1002, [{ opcode: 0xb }]],
      ['a fragmented ping', 1002, [{ opcode: Opcode.ping, payload: 'x', fin: false }]],
      ['a ping over 125 bytes', 1002, [{ opcode: Opcode.ping, payload: Buffer.alloc(126) }]],
      ['a continuation with nothing to continue', 1002, [{ opcode: Opcode.continuation, payload: 'x' }]],
      [
        'a new text frame inside a fragmented message',
        1002,
        [
          { opcode: Opcode.text, payload: 'par', fin: false },
          { opcode: Opcode.text, payload: 'tial' },
        ],
      ],
      ['a close frame with a one-byte payload', 1002, [{ opcode: Opcode.close, payload: Buffer.from([3]) }]],
      ['a close frame with code 1005', 1002, [{ opcode: Opcode.close, payload: closePayload(1005) }]],
      ['a close frame with code 999', 1002, [{ opcode: Opcode.close, payload: closePayload(999) }]],
      ['a close frame with the reserved code 1015', 1002, [{ opcode: Opcode.close, payload: closePayload(1015) }]],
      [
        'a close reason that is not UTF-8',
        1007,
        [{ opcode: Opcode.close, payload: closePayload(1000, Buffer.from([0xff, 0xfe])) }],
      ],
    ];
    it.each(violations)('closes %s with %i; the others go on', async (_name, code, frames) => {
      const { peer, watcher, peerId } = await setup();
      for (const frame of frames) peer.sendFrame(frame);
      const close = await peer.readClose();
      expect(close).toMatchObject({ code, frame: true });
      await peer.waitEnd();
      await expectOthersUnaffected(watcher, peerId);
    });

    it('reassembles a fragmented text message with a ping between fragments', async () => {
      const { peer } = await setup();
      peer.sendFrame({ opcode: Opcode.text, payload: '{"type":"echo",', fin: false });
      peer.sendFrame({ opcode: Opcode.ping, payload: 'between' });
      peer.sendFrame({ opcode: Opcode.continuation, payload: '"payload":"fr', fin: false });
      peer.sendFrame({ opcode: Opcode.continuation, payload: 'agments ✓"}' });
      const pong = await peer.readFrame();
      expect(pong.opcode).toBe(Opcode.pong);
      expect(pong.payload.toString()).toBe('between');
      const reply = await peer.readFrame();
      expect(reply.opcode).toBe(Opcode.text);
      expect(JSON.parse(reply.payload.toString())).toStrictEqual({ type: 'echo', payload: 'fragments ✓' });
    });

    it('reassembles a fragmented binary message and echoes it as one', async () => {
      const { peer } = await setup();
      peer.sendFrame({ opcode: Opcode.binary, payload: Buffer.from([1, 2]), fin: false });
      peer.sendFrame({ opcode: Opcode.continuation, payload: Buffer.from([]), fin: false });
      peer.sendFrame({ opcode: Opcode.continuation, payload: Buffer.from([3]) });
      const reply = await peer.readFrame();
      expect(reply.opcode).toBe(Opcode.binary);
      expect([...reply.payload]).toEqual([1, 2, 3]);
    });

    it('takes many frames in one write, and one frame split over many writes', async () => {
      const { peer } = await setup();
      const frames = Array.from({ length: 20 }, (_, i) =>
        encodeFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'echo', payload: i }) }),
      );
      peer.write(Buffer.concat(frames));
      for (let i = 0; i < 20; i++) {
        expect(JSON.parse((await peer.readFrame()).payload.toString())).toStrictEqual({ type: 'echo', payload: i });
      }
      const split = encodeFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'echo', payload: 'split' }) });
      for (const byte of split) {
        peer.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(JSON.parse((await peer.readFrame()).payload.toString())).toStrictEqual({ type: 'echo', payload: 'split' });
    });

    it('returns payloads exactly as sent: integers past 2^53, -0, 1e400', async () => {
      const { peer } = await setup();
      const payload = '{"big":12345678901234567890,"neg":-0,"huge":1e400,"nested":[9007199254740993]}';
      peer.sendFrame({ opcode: Opcode.text, payload: `{"type":"echo","payload":${payload}}` });
      expect((await peer.readFrame()).payload.toString()).toBe(`{"type":"echo","payload":${payload}}`);
      peer.sendFrame({ opcode: Opcode.text, payload: `{"type":"broadcast","payload":${payload}}` });
      expect((await peer.readFrame()).payload.toString()).toMatch(new RegExp(`"payload":${escapeRegExp(payload)}}$`));
    });

    it('answers a ping with a pong carrying the same payload', async () => {
      const { peer } = await setup();
      peer.sendFrame({ opcode: Opcode.ping, payload: 'are you there' });
      const pong = await peer.readFrame();
      expect(pong.opcode).toBe(Opcode.pong);
      expect(pong.payload.toString()).toBe('are you there');
    });

    it('answers a close 1000 with a close 1000 and ends the connection', async () => {
      const { peer, watcher, peerId } = await setup();
      peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000, 'bye') });
      expect(await peer.readClose()).toMatchObject({ code: 1000, frame: true });
      await peer.waitEnd();
      expect(await watcher.client.receive()).toStrictEqual({ type: 'leave', id: peerId });
    });

    it.each([1001, 3000, 4999])('answers a close %i with the same code', async (code) => {
      const { peer } = await setup();
      peer.sendFrame({ opcode: Opcode.close, payload: closePayload(code, 'bye') });
      expect(await peer.readClose()).toMatchObject({ code, frame: true });
      await peer.waitEnd();
    });

    it('answers an empty close frame with a close frame', async () => {
      const { peer } = await setup();
      peer.sendFrame({ opcode: Opcode.close });
      const close = await peer.readClose();
      expect(close.frame).toBe(true);
      expect([1000, 1005]).toContain(close.code);
      await peer.waitEnd();
    });

    describe('a peer that never sends its FIN', () => {
      // Well under the libraries' own 30 s (and net's 5 s closing timeout): leave is due at once.
      const LEAVE_WAIT = 3_000;
      const halfOpen = async (options: ServerOptions = {}) => {
        const parts = await setup(options);
        // The peer keeps its side of TCP open after the server ends its own.
        parts.peer.socket.allowHalfOpen = true;
        return parts;
      };

      it('gets leave sent once the closing handshake is done, and the server ends TCP first', async () => {
        const { peer, watcher, peerId } = await halfOpen();
        peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
        expect(await peer.readClose()).toMatchObject({ code: 1000, frame: true });
        expect(await watcher.client.receive('leave', LEAVE_WAIT)).toStrictEqual({ type: 'leave', id: peerId });
        await peer.waitEnd();
      });

      it.each([
        ['a protocol violation', { opcode: Opcode.text, payload: 'unmasked', mask: false }, 1002],
        ['an over-limit message', { opcode: Opcode.binary, payload: Buffer.alloc(2048) }, 1009],
      ])('gets leave sent once the server has failed the connection for %s', async (_name, frame, code) => {
        const { peer, watcher, peerId } = await halfOpen({ maxPayload: 1024 });
        peer.sendFrame(frame);
        expect(await peer.readClose()).toMatchObject({ code, frame: true });
        expect(await watcher.client.receive('leave', LEAVE_WAIT)).toStrictEqual({ type: 'leave', id: peerId });
        await peer.waitEnd();
      });

      it('is destroyed by close() even while it keeps sending', async () => {
        const { peer } = await halfOpen({ shutdownTimeout: 500 });
        peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
        await peer.readClose();
        await peer.waitEnd();
        const failed = new Promise<string>((resolve) => {
          peer.socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        });
        // Input resets the idle linger: only the shutdown can end this socket.
        const chatter = setInterval(() => peer.socket.write('x'), 50);
        try {
          await within(h.server.close(), 10_000, 'server.close() with a chattering half-open peer');
          // Writes to a socket the server destroyed are answered with a reset.
          expect(await within(failed, 10_000, 'the server to destroy the lingering socket')).toMatch(
            /ECONNRESET|EPIPE/,
          );
        } finally {
          clearInterval(chatter);
        }
      });
    });

    it('announces leave when a peer vanishes without a close frame', async () => {
      const { peer, watcher, peerId } = await setup();
      peer.destroy();
      expect(await watcher.client.receive()).toStrictEqual({ type: 'leave', id: peerId });
    });
  });
}

/** A valid upgrade request (echo-protocol offered) padded to exactly `size` bytes. */
function headOfSize(host: string, size: number): string {
  const base = upgradeRequestText(host, { protocols: ['echo-protocol'], extraHeaders: { 'X-Pad': '' } });
  const padding = size - Buffer.byteLength(base);
  return upgradeRequestText(host, { protocols: ['echo-protocol'], extraHeaders: { 'X-Pad': 'p'.repeat(padding) } });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
