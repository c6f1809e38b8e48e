// CONTRACT.md section 4 on the wire: RFC 6455 frames as raw bytes.

import { closeReasonFor, type RealtimeClient, type ServerOptions, within } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import { escapeRegExp } from '../helpers.js';
import { closePayload, encodeFrame, Opcode } from '../raw.js';

/** RFC 6455 frames as bytes on the wire: protocol violations, fragments, control frames, closing. */
export function framesOnTheWire({ h }: GroupContext): void {
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
      // The reason too: the same one for the same code on every adapter, whatever the violation.
      expect(close).toStrictEqual({ code, reason: closeReasonFor(code), frame: true });
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
        expect(await peer.readClose()).toStrictEqual({ code, reason: closeReasonFor(code), frame: true });
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
