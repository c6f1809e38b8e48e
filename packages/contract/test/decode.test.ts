import { describe, expect, it } from 'vitest';
import { decodeClientEvent, decodeClientText, encodeServerText, RawJson } from '../src/index.js';

describe('decodeClientText', () => {
  it.each([
    ['{"type":"echo","payload":1}', 'echo', '1'],
    ['{"type":"broadcast","payload":null}', 'broadcast', 'null'],
    ['{"type":"echo","payload":{"a":[1,"ü"]},"extra":true}', 'echo', '{"a":[1,"ü"]}'],
    ['{ "payload" : [ 1 , {"}":"\\\\]"} ] , "type":"echo"}', 'echo', '[ 1 , {"}":"\\\\]"} ]'],
    ['{"type":"echo","payload":1,"payload":12345678901234567890}', 'echo', '12345678901234567890'],
    ['{"type":"echo","pay\\u006coad":-0}', 'echo', '-0'],
    ['{"type":"echo","payload":"a\\"b\\\\"}', 'echo', '"a\\"b\\\\"'],
  ])('accepts %s, keeping the payload text exactly', (text, type, payload) => {
    const decoded = decodeClientText(text);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.message.type).toBe(type);
    expect(decoded.message.payload).toBeInstanceOf(RawJson);
    expect((decoded.message.payload as RawJson).text).toBe(payload);
    expect(encodeServerText({ type: 'echo', payload: decoded.message.payload })).toBe(
      `{"type":"echo","payload":${payload}}`,
    );
  });

  it.each([
    ['not json', /not valid JSON/],
    ['[1,2]', /JSON object/],
    ['"text"', /JSON object/],
    ['null', /JSON object/],
    ['{"payload":1}', /no string field "type"/],
    ['{"type":7,"payload":1}', /no string field "type"/],
    ['{"type":"shout","payload":1}', /unknown type "shout"/],
    ['{"type":"echo"}', /needs a "payload"/],
    ['{"type":"constructor","payload":1}', /unknown type/],
    ['{"type":"__proto__","payload":1}', /unknown type/],
  ])('refuses %s', (text, reason) => {
    const decoded = decodeClientText(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });

  it('clips a long unknown type in the reason', () => {
    const decoded = decodeClientText(JSON.stringify({ type: 'x'.repeat(10_000), payload: 1 }));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason.length).toBeLessThan(120);
  });
});

describe('decodeClientEvent', () => {
  it('takes the event name as the type and ignores extra fields', () => {
    expect(decodeClientEvent('echo', { payload: [1], x: 2 })).toEqual({
      ok: true,
      message: { type: 'echo', payload: [1] },
    });
  });
  it.each([
    ['echo', 'text'],
    ['echo', [1]],
    ['echo', null],
    ['echo', {}],
    ['nope', { payload: 1 }],
  ])('refuses %s with %j', (event, arg) => {
    expect(decodeClientEvent(event, arg).ok).toBe(false);
  });
});
