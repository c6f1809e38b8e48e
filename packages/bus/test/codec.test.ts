import { type BusEvent, RawJson } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { decodeBusEvent, encodeBusEvent } from '../src/index.js';

const roundTrip = (event: BusEvent) => decodeBusEvent(encodeBusEvent(event));

describe('bus event codec', () => {
  it('round-trips joins, leaves and JSON payloads exactly', () => {
    const events: BusEvent[] = [
      { kind: 'join', origin: 'r1', id: 'a' },
      { kind: 'leave', origin: 'r1', id: 'a' },
      { kind: 'broadcast', origin: 'r1', from: 'a', payload: null },
      { kind: 'broadcast', origin: 'r1', from: 'a', payload: [1, 'two', { three: [true, false, 0.5] }] },
      { kind: 'broadcast', origin: 'r1', from: 'a', payload: 'ünïcødé ✓' },
      { kind: 'presence', origin: 'r1', mode: 'heartbeat', members: ['a', 'b'] },
      { kind: 'presence', origin: 'r1', mode: 'ask', members: [] },
      { kind: 'presence', origin: 'r1', mode: 'answer', members: ['a'] },
      { kind: 'presence', origin: 'r1', mode: 'bye', members: [] },
    ];
    for (const event of events) expect(roundTrip(event)).toStrictEqual(event);
  });

  it('carries bytes anywhere in a payload as bytes', () => {
    const inner = new Uint8Array([0, 1, 2, 255]);
    const sliced = Buffer.from([9, 8, 7, 6, 5]).subarray(1, 4);
    const decoded = roundTrip({
      kind: 'broadcast',
      origin: 'r',
      from: 'a',
      payload: { buf: Buffer.from('hi'), list: [inner, { deep: sliced }], empty: new Uint8Array(0) },
    });
    expect(decoded?.kind).toBe('broadcast');
    const payload = (decoded as { payload: { buf: Buffer; list: [Buffer, { deep: Buffer }]; empty: Buffer } }).payload;
    expect(Buffer.isBuffer(payload.buf)).toBe(true);
    expect([...payload.buf]).toEqual([...Buffer.from('hi')]);
    expect([...payload.list[0]]).toEqual([0, 1, 2, 255]);
    // A view into a bigger buffer sends only its own bytes.
    expect([...payload.list[1].deep]).toEqual([8, 7, 6]);
    expect(payload.empty.length).toBe(0);
  });

  it('never mistakes a payload that looks like a tag for bytes', () => {
    const tricky = [
      { $bytes: 'AAEC' },
      { $object: { $bytes: 'x' } },
      { $object: 1 },
      { $bytes: 1, other: 2 },
      { $json: '1' },
    ];
    for (const payload of tricky) {
      expect(roundTrip({ kind: 'broadcast', origin: 'r', from: 'a', payload })).toStrictEqual({
        kind: 'broadcast',
        origin: 'r',
        from: 'a',
        payload,
      });
    }
  });

  it('carries a payload kept as exact JSON text exactly', () => {
    const payload = new RawJson('{"big":12345678901234567890,"neg":-0}');
    const decoded = roundTrip({ kind: 'broadcast', origin: 'r', from: 'a', payload }) as { payload: unknown };
    expect(decoded.payload).toBeInstanceOf(RawJson);
    expect((decoded.payload as RawJson).text).toBe(payload.text);
  });

  it('keeps a __proto__ key as data', () => {
    const payload = JSON.parse('{"__proto__":{"polluted":true},"x":1}') as object;
    const decoded = roundTrip({ kind: 'broadcast', origin: 'r', from: 'a', payload }) as { payload: object };
    expect(Object.getPrototypeOf(decoded.payload)).toBe(Object.prototype);
    expect(JSON.stringify(decoded.payload)).toBe('{"__proto__":{"polluted":true},"x":1}');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('refuses what is not a bus event', () => {
    expect(decodeBusEvent('{"kind":"join","origin":"r"}')).toBeUndefined();
    expect(decodeBusEvent('{"kind":"shout","origin":"r","id":"a"}')).toBeUndefined();
    expect(decodeBusEvent('[1]')).toBeUndefined();
    expect(decodeBusEvent('{"kind":"presence","origin":"r","mode":"shout","members":[]}')).toBeUndefined();
    expect(decodeBusEvent('{"kind":"presence","origin":"r","mode":"heartbeat","members":[1]}')).toBeUndefined();
    expect(decodeBusEvent('{"kind":"presence","origin":"r","mode":"heartbeat"}')).toBeUndefined();
    expect(() => decodeBusEvent('not json')).toThrow(SyntaxError);
  });
});
