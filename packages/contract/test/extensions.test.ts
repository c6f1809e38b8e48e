import { describe, expect, it } from 'vitest';
import {
  acceptableDeflateOffers,
  keepAcceptableDeflateOffers,
  PER_MESSAGE_DEFLATE_DEFAULTS,
  parseExtensionHeader,
  resolvePerMessageDeflate,
} from '../src/index.js';

const defaults = PER_MESSAGE_DEFLATE_DEFAULTS;

describe('parseExtensionHeader', () => {
  it('reads several offers with bare, token and quoted values, in order', () => {
    expect(
      parseExtensionHeader(
        'permessage-deflate; client_max_window_bits, permessage-deflate ; server_max_window_bits="10" ;x=ab, foo',
      ),
    ).toStrictEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
      {
        name: 'permessage-deflate',
        params: [
          ['server_max_window_bits', '10'],
          ['x', 'ab'],
        ],
      },
      { name: 'foo', params: [] },
    ]);
  });
  it('unescapes quoted strings', () => {
    expect(parseExtensionHeader('e; p="a\\"b"')).toStrictEqual([{ name: 'e', params: [['p', 'a"b']] }]);
  });
  it.each(['', ',', 'a;', 'a; =1', 'a; p=', 'a; p="open', 'a b', 'a,,b', 'a; p=1 2'])('refuses %j', (header) =>
    expect(parseExtensionHeader(header)).toBeUndefined());
});

describe('acceptableDeflateOffers', () => {
  it.each([
    ['permessage-deflate', 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits'],
    ['permessage-deflate; client_max_window_bits="12"', 'permessage-deflate; client_max_window_bits=12'],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ],
    ['permessage-deflate; server_max_window_bits=8', 'permessage-deflate; server_max_window_bits=8'],
    // The bad offers are dropped, the good one after them kept.
    ['permessage-deflate; server_max_window_bits=7, permessage-deflate', 'permessage-deflate'],
    [
      'x-webkit-deflate-frame, permessage-deflate; foo, permessage-deflate; client_max_window_bits',
      'permessage-deflate; client_max_window_bits',
    ],
  ])('keeps what can be accepted of %j', (header, kept) =>
    expect(acceptableDeflateOffers(header, defaults)).toBe(kept));

  it.each([
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010',
    'permessage-deflate; client_max_window_bits=7',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; unknown',
    'x-webkit-deflate-frame',
    'permessage-deflate; ;',
  ])('declines %j', (header) => expect(acceptableDeflateOffers(header, defaults)).toBeUndefined());

  it('declines everything when compression is off', () => {
    expect(acceptableDeflateOffers('permessage-deflate', false)).toBeUndefined();
  });

  it('declines offers the server settings do not fit in', () => {
    const small = resolvePerMessageDeflate({ serverMaxWindowBits: 12, clientMaxWindowBits: 10 });
    if (!small) throw new Error('resolved to off');
    // A client window limit needs client_max_window_bits in the offer.
    expect(acceptableDeflateOffers('permessage-deflate', small)).toBeUndefined();
    expect(acceptableDeflateOffers('permessage-deflate; client_max_window_bits=9', small)).toBeUndefined();
    expect(acceptableDeflateOffers('permessage-deflate; client_max_window_bits', small)).toBe(
      'permessage-deflate; client_max_window_bits',
    );
    // The server compresses with 12 bits: an offer of at most 11 cannot be honoured.
    expect(
      acceptableDeflateOffers('permessage-deflate; client_max_window_bits; server_max_window_bits=11', small),
    ).toBeUndefined();
    expect(
      acceptableDeflateOffers('permessage-deflate; client_max_window_bits; server_max_window_bits=13', small),
    ).toBe('permessage-deflate; client_max_window_bits; server_max_window_bits=13');
  });
});

describe('keepAcceptableDeflateOffers', () => {
  it('rewrites the header, or removes it when nothing is left', () => {
    const headers: Record<string, string | undefined> = {
      'sec-websocket-extensions': 'permessage-deflate; bogus, permessage-deflate',
    };
    keepAcceptableDeflateOffers(headers, defaults);
    expect(headers['sec-websocket-extensions']).toBe('permessage-deflate');
    keepAcceptableDeflateOffers(headers, false);
    expect(headers).not.toHaveProperty('sec-websocket-extensions');
  });
});
