// CONTRACT.md sections 3 and 4 on the wire: permessage-deflate (RFC 7692) as raw bytes.

import type { RealtimeClient, ServerOptions } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { deflateMessage, MessageDeflater, MessageInflater, readJson, readMessage } from '../deflate.js';
import { answerProblems, type ExtensionParams, parseAnswer } from '../extensions.js';
import type { GroupContext } from '../group.js';
import type { Harness } from '../harness.js';
import { KiB } from '../helpers.js';
import { type HttpHead, Opcode, type RawPeer, upgradeRequestText } from '../raw.js';

/** Compress everything, so every case exercises the compressed path. */
const ALWAYS: ServerOptions = { perMessageDeflate: { threshold: 0 } };
/** A chat-like JSON payload: compressible, as real traffic is. */
const chat = (i: number) => ({
  user: `user-${i % 7}`,
  room: 'general',
  text: `message number ${i}: the quick brown fox jumps over the lazy dog`,
  tags: ['chat', 'text', 'general'],
});

/** A raw peer that offered `extensions`, with the server's answer. */
interface Offered {
  peer: RawPeer;
  head: HttpHead;
  answer: string | undefined;
  /** The answered permessage-deflate parameters; undefined when the server did not accept it. */
  params: ExtensionParams | undefined;
  inflater: MessageInflater;
}

async function offer(h: Harness, extensions: string | undefined): Promise<Offered> {
  const peer = await h.raw();
  const extraHeaders: Record<string, string> =
    extensions === undefined ? {} : { 'Sec-WebSocket-Extensions': extensions };
  peer.write(upgradeRequestText(`127.0.0.1:${h.server.port}`, { protocols: ['echo-protocol'], extraHeaders }));
  const head = await peer.readHead();
  const answer = head.headers['sec-websocket-extensions'];
  const params = answer === undefined ? undefined : parseAnswer(answer)[0]?.params;
  const inflater = new MessageInflater(params?.has('server_no_context_takeover') ?? false);
  return { peer, head, answer, params, inflater };
}

/** Offers, checks the answer is valid for the offer, and takes the welcome. */
async function accepted(h: Harness, extensions = 'permessage-deflate; client_max_window_bits'): Promise<Offered> {
  const offered = await offer(h, extensions);
  expect(offered.head.status).toBe(101);
  expect(offered.answer, 'Sec-WebSocket-Extensions in the answer').toBeDefined();
  // Valid as an answer to one of the permessage-deflate offers (the first the server could accept).
  const answered = parseAnswer(offered.answer as string);
  const offers = parseAnswer(extensions).filter((e) => e.name === 'permessage-deflate');
  const problems = offers.map((o) => answerProblems(answered, o.params));
  expect(problems.find((list) => list.length === 0) ?? problems[0]).toStrictEqual([]);
  expect(await readJson(offered.peer, offered.inflater)).toMatchObject({ type: 'welcome' });
  return offered;
}

/** Offers and expects an uncompressed upgrade that works: no extension answered, plain frames. */
async function expectUncompressedUpgrade(h: Harness, extensions: string): Promise<void> {
  const { peer, head, answer, inflater } = await offer(h, extensions);
  expect(head.status).toBe(101);
  expect(answer).toBeUndefined();
  const welcome = await readMessage(peer, inflater);
  expect(welcome.compressed).toBe(false);
  expect(JSON.parse(welcome.data.toString())).toMatchObject({ type: 'welcome' });
  const text = JSON.stringify({ type: 'echo', payload: chat(1) });
  peer.sendFrame({ opcode: Opcode.text, payload: text });
  const reply = await readMessage(peer, inflater);
  expect(reply.compressed).toBe(false);
  expect(reply.data.toString()).toBe(text);
}

const echoText = (payload: unknown) => JSON.stringify({ type: 'echo', payload });

/** A server with `perMessageDeflate` negotiates it, and every message means the same compressed. */
export function compressionOnTheWire({ h, capabilities }: GroupContext): void {
  describe('permessage-deflate on the wire (sections 3 and 4)', () => {
    /** A compressing raw peer plus a plain client watching, past welcome and join. */
    const setup = async (options: ServerOptions = ALWAYS) => {
      await h.start(options);
      const watcher = await h.join();
      const offered = await accepted(h);
      const join = (await watcher.client.receive('join')) as { id: string };
      return { ...offered, watcher, peerId: join.id };
    };
    const expectOthersUnaffected = async (watcher: { client: RealtimeClient }, peerId: string) => {
      expect(await watcher.client.receive()).toStrictEqual({ type: 'leave', id: peerId });
      watcher.client.send({ type: 'echo', payload: 'unaffected' });
      expect(await watcher.client.receive()).toStrictEqual({ type: 'echo', payload: 'unaffected' });
    };

    describe('negotiation', () => {
      it.each([
        ['a bare offer', 'permessage-deflate'],
        ['client_max_window_bits without a value (browsers)', 'permessage-deflate; client_max_window_bits'],
        ['client_max_window_bits=12', 'permessage-deflate; client_max_window_bits=12'],
        ['server_no_context_takeover', 'permessage-deflate; server_no_context_takeover'],
        ['client_no_context_takeover', 'permessage-deflate; client_no_context_takeover'],
        ['server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=10'],
        ['a quoted value', 'permessage-deflate; server_max_window_bits="11"'],
        [
          'every parameter at once',
          'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12',
        ],
        ['an unknown extension before it', 'x-unknown-extension; a=b, permessage-deflate'],
        [
          'a bad offer first, a good one after it',
          'permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits',
        ],
      ])('accepts %s with valid parameters, and messages work', async (_name, extensions) => {
        await h.start(ALWAYS);
        const { peer, inflater, params } = await accepted(h, extensions);
        expect(params).toBeDefined();
        // Within the window the server allowed (zlib cannot make 8-bit raw windows; none is offered here).
        const deflated = deflateMessage(echoText(chat(1)));
        peer.sendFrame({ opcode: Opcode.text, payload: deflated, rsv: 4 });
        expect(await readJson(peer, inflater)).toStrictEqual({ type: 'echo', payload: chat(1) });
      });

      it.each([
        ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
        ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
        ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
        ['client_max_window_bits=7', 'permessage-deflate; client_max_window_bits=7'],
        ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1'],
        ['a parameter twice', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover'],
        ['an unknown parameter', 'permessage-deflate; unknown_parameter'],
        ['only another extension', 'x-webkit-deflate-frame'],
        ['a header that does not parse', 'permessage-deflate; ;=='],
      ])('declines an offer with %s: an uncompressed upgrade', async (_name, extensions) => {
        await h.start(ALWAYS);
        await expectUncompressedUpgrade(h, extensions);
      });

      it('without the option, answers an offer with an uncompressed upgrade', async () => {
        await h.start();
        await expectUncompressedUpgrade(h, 'permessage-deflate; client_max_window_bits');
      });

      it('with the defaults, asks for no client context takeover', async () => {
        await h.start({ perMessageDeflate: true });
        const { params } = await accepted(h);
        expect(params?.has('client_no_context_takeover')).toBe(false);
      });
    });

    describe('messages mean the same compressed', () => {
      it('echoes a compressed text message, compressed', async () => {
        const { peer, inflater } = await setup();
        const payload = { items: Array.from({ length: 40 }, (_, i) => chat(i)), note: 'héllo ✓ 日本語' };
        peer.sendFrame({ opcode: Opcode.text, payload: deflateMessage(echoText(payload)), rsv: 4 });
        const reply = await readMessage(peer, inflater);
        expect(reply.compressed).toBe(true);
        expect(JSON.parse(reply.data.toString())).toStrictEqual({ type: 'echo', payload });
      });

      it('takes an uncompressed message on a compressing connection', async () => {
        const { peer, inflater } = await setup();
        peer.sendFrame({ opcode: Opcode.text, payload: echoText('plain') });
        expect(await readJson(peer, inflater)).toStrictEqual({ type: 'echo', payload: 'plain' });
      });

      it('reassembles a compressed message in fragments: RSV1 on the first only', async () => {
        const { peer, inflater } = await setup();
        const deflated = deflateMessage(echoText(chat(2)));
        const third = Math.ceil(deflated.length / 3);
        peer.sendFrame({ opcode: Opcode.text, payload: deflated.subarray(0, third), fin: false, rsv: 4 });
        peer.sendFrame({ opcode: Opcode.ping, payload: 'between' });
        peer.sendFrame({ opcode: Opcode.continuation, payload: deflated.subarray(third, 2 * third), fin: false });
        peer.sendFrame({ opcode: Opcode.continuation, payload: deflated.subarray(2 * third) });
        expect(await readJson(peer, inflater)).toStrictEqual({ type: 'echo', payload: chat(2) });
      });

      it('keeps the client context across messages (context takeover)', async () => {
        const { peer, inflater } = await setup();
        const deflater = new MessageDeflater();
        try {
          const text = echoText({ history: Array.from({ length: 30 }, (_, i) => chat(i)) });
          const first = await deflater.deflate(text);
          const second = await deflater.deflate(text);
          // The second leans on the first: it only inflates with the first still in the window.
          expect(second.length).toBeLessThan(first.length / 4);
          for (const payload of [first, second, await deflater.deflate(text)]) {
            peer.sendFrame({ opcode: Opcode.text, payload, rsv: 4 });
            expect((await readMessage(peer, inflater)).data.toString()).toBe(text);
          }
        } finally {
          deflater.close();
        }
      });

      it('compresses only messages at or over the threshold', async () => {
        const { peer, inflater } = await setup({ perMessageDeflate: { threshold: 1024 } });
        peer.sendFrame({ opcode: Opcode.text, payload: deflateMessage(echoText('short')), rsv: 4 });
        const short = await readMessage(peer, inflater);
        expect(short.compressed).toBe(false);
        expect(JSON.parse(short.data.toString())).toStrictEqual({ type: 'echo', payload: 'short' });
        const long = { history: Array.from({ length: 30 }, (_, i) => chat(i)) };
        peer.sendFrame({ opcode: Opcode.text, payload: echoText(long) });
        const reply = await readMessage(peer, inflater);
        expect(reply.compressed).toBe(true);
        expect(JSON.parse(reply.data.toString())).toStrictEqual({ type: 'echo', payload: long });
      });

      if (capabilities.binaryMessages) {
        it.each([0, 1, 64 * KiB])('echoes a compressed binary message of %i bytes exactly', async (size) => {
          const { peer, inflater } = await setup();
          const bytes = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + 3) % 256));
          peer.sendFrame({ opcode: Opcode.binary, payload: deflateMessage(bytes), rsv: 4 });
          const reply = await readMessage(peer, inflater);
          expect(reply.opcode).toBe(Opcode.binary);
          expect(reply.data.equals(bytes)).toBe(true);
        });
      }

      it('delivers a broadcast to compressing and plain peers in one room alike', async () => {
        await h.start(ALWAYS);
        const compressing = await accepted(h);
        const plain = await offer(h, undefined);
        expect(plain.answer).toBeUndefined();
        await readMessage(plain.peer, plain.inflater);
        // The compressing peer sees the plain one join.
        expect(await readJson(compressing.peer, compressing.inflater)).toMatchObject({ type: 'join' });
        const sender = await h.join({ perMessageDeflate: true });
        for (const peer of [compressing, plain]) {
          expect(await readJson(peer.peer, peer.inflater)).toStrictEqual({ type: 'join', id: sender.id });
        }
        const payload = { history: Array.from({ length: 30 }, (_, i) => chat(i)) };
        for (let round = 0; round < 3; round++) {
          sender.client.send({ type: 'broadcast', payload: { round, ...payload } });
          const expected = { type: 'broadcast', from: sender.id, payload: { round, ...payload } };
          const toCompressing = await readMessage(compressing.peer, compressing.inflater);
          const toPlain = await readMessage(plain.peer, plain.inflater);
          expect(toCompressing.compressed).toBe(true);
          expect(toPlain.compressed).toBe(false);
          expect(JSON.parse(toCompressing.data.toString())).toStrictEqual(expected);
          expect(JSON.parse(toPlain.data.toString())).toStrictEqual(expected);
          expect(await sender.client.receive('broadcast')).toStrictEqual(expected);
        }
      });
    });

    describe('RSV1 misuse and the inflated size limit', () => {
      it.each([
        ['RSV1 on a ping', [{ opcode: Opcode.ping, payload: 'x', rsv: 4 }]],
        ['RSV1 on a close frame', [{ opcode: Opcode.close, payload: Buffer.from([0x03, 0xe8]), rsv: 4 }]],
        [
          'RSV1 on a continuation',
          [
            { opcode: Opcode.text, payload: deflateMessage(echoText('a')).subarray(0, 2), fin: false, rsv: 4 },
            { opcode: Opcode.continuation, payload: deflateMessage(echoText('a')).subarray(2), rsv: 4 },
          ],
        ],
        ['RSV2 on a compressed message', [{ opcode: Opcode.text, payload: deflateMessage(echoText('a')), rsv: 6 }]],
      ])('closes %s with 1002; the others go on', async (_name, frames) => {
        const { peer, watcher, peerId } = await setup();
        for (const frame of frames) peer.sendFrame(frame);
        expect(await peer.readClose()).toMatchObject({ code: 1002, frame: true });
        await peer.waitEnd();
        await expectOthersUnaffected(watcher, peerId);
      });

      it('closes RSV1 with 1002 when the client offered no extension', async () => {
        await h.start(ALWAYS);
        const { peer, answer, inflater } = await offer(h, undefined);
        expect(answer).toBeUndefined();
        await readMessage(peer, inflater);
        peer.sendFrame({ opcode: Opcode.text, payload: deflateMessage(echoText('a')), rsv: 4 });
        expect(await peer.readClose()).toMatchObject({ code: 1002, frame: true });
      });

      it('closes a compressed message that does not inflate with 1007 or 1002', async () => {
        const { peer, watcher, peerId } = await setup();
        peer.sendFrame({ opcode: Opcode.text, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), rsv: 4 });
        const close = await peer.readClose();
        expect(close.frame).toBe(true);
        expect([1002, 1007]).toContain(close.code);
        await expectOthersUnaffected(watcher, peerId);
      });

      it('takes a compressed message that inflates to just under the limit', async () => {
        const { peer, inflater } = await setup({ maxPayload: 64 * KiB, perMessageDeflate: { threshold: 0 } });
        const payload = 'a'.repeat(64 * KiB - 64);
        peer.sendFrame({ opcode: Opcode.text, payload: deflateMessage(echoText(payload)), rsv: 4 });
        expect(await readJson(peer, inflater)).toStrictEqual({ type: 'echo', payload });
      });

      it('closes a small frame that inflates past the limit (an inflate bomb) with 1009; the server goes on', async () => {
        const { peer, watcher, peerId } = await setup({ maxPayload: 64 * KiB, perMessageDeflate: { threshold: 0 } });
        const bomb = deflateMessage(echoText('a'.repeat(16 * 1024 * KiB)));
        // 16 MiB inflated from about 16 KiB on the wire: under the limit as sent, far over it inflated.
        expect(bomb.length).toBeLessThan(32 * KiB);
        peer.sendFrame({ opcode: Opcode.text, payload: bomb, rsv: 4 });
        expect(await peer.readClose(10_000)).toMatchObject({ code: 1009, frame: true });
        await peer.waitEnd();
        await expectOthersUnaffected(watcher, peerId);
        const after = await accepted(h);
        after.peer.sendFrame({ opcode: Opcode.text, payload: deflateMessage(echoText('after')), rsv: 4 });
        expect(await readJson(after.peer, after.inflater)).toStrictEqual({ type: 'echo', payload: 'after' });
      });
    });
  });
}

/** A server whose library cannot compress answers every offer uncompressed, with the option on or off. */
export function compressionDeclinedOnTheWire({ h }: GroupContext): void {
  describe('permessage-deflate declined on the wire (section 3)', () => {
    it.each([
      ['with perMessageDeflate', ALWAYS],
      ['without it', {}],
    ])('answers an offer with an uncompressed upgrade %s', async (_name, options) => {
      await h.start(options);
      await expectUncompressedUpgrade(h, 'permessage-deflate; client_max_window_bits');
    });

    it('closes RSV1 with 1002: no extension was negotiated', async () => {
      await h.start(ALWAYS);
      const { peer, inflater } = await offer(h, 'permessage-deflate');
      await readMessage(peer, inflater);
      peer.sendFrame({ opcode: Opcode.text, payload: deflateMessage(echoText('a')), rsv: 4 });
      expect(await peer.readClose()).toMatchObject({ code: 1002, frame: true });
    });
  });
}
