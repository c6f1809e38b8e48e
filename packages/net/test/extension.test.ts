import { PER_MESSAGE_DEFLATE_DEFAULTS, type PerMessageDeflateOptions } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { formatExtension, parseExtensions } from '../src/extension.js';
import { acceptOffer, checkAnswer, clientOffer } from '../src/permessage-deflate.js';

const config = (options: PerMessageDeflateOptions = {}) => ({ ...PER_MESSAGE_DEFLATE_DEFAULTS, ...options });

describe('Sec-WebSocket-Extensions: parsing', () => {
  it('keeps several offers in order, with bare, token and quoted values, duplicates and unknown parameters', () => {
    const parsed = parseExtensions(
      'permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-webkit-deflate-frame, ' +
        'permessage-deflate;server_no_context_takeover;server_no_context_takeover, foo; bar = 1 ;baz',
    );
    expect(parsed).toStrictEqual({
      ok: true,
      offers: [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
        { name: 'x-webkit-deflate-frame', params: [] },
        {
          name: 'permessage-deflate',
          params: [
            ['server_no_context_takeover', true],
            ['server_no_context_takeover', true],
          ],
        },
        {
          name: 'foo',
          params: [
            ['bar', '1'],
            ['baz', true],
          ],
        },
      ],
    });
  });

  it.each([
    ['empty', ''],
    ['a parameter without a name', 'permessage-deflate; =1'],
    ['a value missing after =', 'permessage-deflate; server_max_window_bits='],
    ['an unterminated quoted string', 'permessage-deflate; server_max_window_bits="10'],
    ['a quoted value that is not a token', 'permessage-deflate; server_max_window_bits="1 0"'],
    ['a stray character', 'permessage-deflate; a=1 b'],
    ['a separator as a name', 'permessage-deflate, ;a'],
  ])('refuses %s', (_name, header) => {
    expect(parseExtensions(header).ok).toBe(false);
  });

  it('formats what it parses', () => {
    const header = 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10';
    const parsed = parseExtensions(header);
    expect(parsed.ok && formatExtension(parsed.offers[0]!)).toBe(header);
  });
});

describe('permessage-deflate: the server choosing from the offers (RFC 7692 7.1)', () => {
  const cases: [string, string | undefined, PerMessageDeflateOptions, string | undefined][] = [
    ['a bare offer', 'permessage-deflate', {}, 'permessage-deflate; server_no_context_takeover'],
    [
      'client_max_window_bits without a value',
      'permessage-deflate; client_max_window_bits',
      {},
      'permessage-deflate; server_no_context_takeover',
    ],
    [
      'client_max_window_bits with a value',
      'permessage-deflate; client_max_window_bits=10',
      {},
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=10',
    ],
    [
      'client_max_window_bits limited by the server',
      'permessage-deflate; client_max_window_bits',
      { clientMaxWindowBits: 9 },
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=9',
    ],
    [
      'server_max_window_bits',
      'permessage-deflate; server_max_window_bits=8',
      {},
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=8',
    ],
    [
      'server_max_window_bits, the server going lower',
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10',
    ],
    [
      'a quoted window size',
      'permessage-deflate; server_max_window_bits="11"',
      {},
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=11',
    ],
    [
      'both no_context_takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      {},
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ],
    [
      'client_no_context_takeover asked by the server',
      'permessage-deflate',
      { clientNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ],
    [
      'the first offer it can honour',
      'permessage-deflate; server_max_window_bits=7, permessage-deflate; foo, permessage-deflate; client_max_window_bits=12',
      {},
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=12',
    ],
    ['an unknown extension only', 'x-webkit-deflate-frame', {}, undefined],
    ['an unknown parameter', 'permessage-deflate; foo=1', {}, undefined],
    [
      'a repeated parameter',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      {},
      undefined,
    ],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits', {}, undefined],
    ['a window of 7 bits', 'permessage-deflate; server_max_window_bits=7', {}, undefined],
    ['a window of 16 bits', 'permessage-deflate; client_max_window_bits=16', {}, undefined],
    ['a window with a leading zero', 'permessage-deflate; client_max_window_bits=010', {}, undefined],
    ['a value on no_context_takeover', 'permessage-deflate; client_no_context_takeover=1', {}, undefined],
    [
      'no client_max_window_bits while the server limits the client',
      'permessage-deflate',
      { clientMaxWindowBits: 10 },
      undefined,
    ],
    ['a malformed header', 'permessage-deflate; server_max_window_bits="10', {}, undefined],
    ['no header', undefined, {}, undefined],
  ];
  it.each(cases)('%s', (_name, header, options, response) => {
    expect(acceptOffer(header, config(options))?.response).toBe(response);
  });

  it('resolves what it accepted for both sides', () => {
    expect(
      acceptOffer('permessage-deflate; client_max_window_bits=10; server_max_window_bits=9', config())?.params,
    ).toStrictEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 10,
    });
  });
});

describe('permessage-deflate: the client offering and checking the answer', () => {
  it('offers the configured parameters, always with client_max_window_bits', () => {
    expect(clientOffer(config())).toBe('permessage-deflate; client_max_window_bits');
    expect(
      clientOffer(
        config({
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 11,
        }),
      ),
    ).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
    );
  });

  it('accepts an answer that fits its offer', () => {
    expect(
      checkAnswer('permessage-deflate; server_no_context_takeover; client_max_window_bits=9', config()),
    ).toStrictEqual({
      ok: true,
      params: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 9,
      },
    });
  });

  it.each([
    ['another extension', 'x-webkit-deflate-frame', {}],
    ['two extensions', 'permessage-deflate, permessage-deflate', {}],
    ['an unknown parameter', 'permessage-deflate; foo', {}],
    ['a repeated parameter', 'permessage-deflate; client_max_window_bits=9; client_max_window_bits=9', {}],
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits', {}],
    ['a window over the offer', 'permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
    ['a client window over the offer', 'permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
    ['no server window when one was asked', 'permessage-deflate', { serverMaxWindowBits: 10 }],
    ['context takeover when none was asked', 'permessage-deflate', { serverNoContextTakeover: true }],
    ['a malformed header', 'permessage-deflate;', {}],
  ])('refuses %s', (_name, header, options: PerMessageDeflateOptions) => {
    expect(checkAnswer(header, config(options)).ok).toBe(false);
  });
});
