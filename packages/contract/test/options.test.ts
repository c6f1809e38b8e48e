import { createServer as createHttpServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  type Bus,
  DEFAULTS,
  type Logger,
  MAX_TIMER_MS,
  PER_MESSAGE_DEFLATE_DEFAULTS,
  resolvePerMessageDeflate,
  resolveServerOptions,
  type ServerOptions,
  silentLogger,
} from '../src/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('resolveServerOptions', () => {
  it('fills every option with the contract default', () => {
    const resolved = resolveServerOptions();
    expect(resolved).toStrictEqual({
      port: 0,
      host: '127.0.0.1',
      allowedOrigins: ['http://localhost', 'http://127.0.0.1'],
      maxPayload: 1 * MiB,
      outboundLimit: 4 * MiB,
      heartbeatInterval: 30_000,
      handshakeTimeout: 10_000,
      shutdownTimeout: 5_000,
      requireProtocol: false,
      perMessageDeflate: false,
      bus: undefined,
      logger: silentLogger,
      presenceTimeout: 10_000,
      tls: undefined,
      server: undefined,
      path: undefined,
      observer: undefined,
      httpEndpoints: undefined,
    });
    expect(resolved.logger).toBe(silentLogger);
    expect(resolveServerOptions({})).toStrictEqual(resolved);
  });

  it('DEFAULTS holds the numbers CONTRACT.md sections 3 and 4 give', () => {
    expect(DEFAULTS).toStrictEqual({
      host: '127.0.0.1',
      maxPayload: 1 * MiB,
      outboundLimit: 4 * MiB,
      heartbeatInterval: 30_000,
      handshakeTimeout: 10_000,
      shutdownTimeout: 5_000,
      maxHeadSize: 16 * KiB,
      allowedOrigins: ['http://localhost', 'http://127.0.0.1'],
      requireProtocol: false,
      presenceTimeout: 10_000,
    });
    expect(MAX_TIMER_MS).toBe(2_147_483_647);
  });

  it('takes every option the user gives', () => {
    const bus: Bus = { publish: () => {}, subscribe: () => () => {} };
    const logger: Logger = { ...silentLogger };
    const options: Required<ServerOptions> = {
      port: 8080,
      host: '::1',
      allowedOrigins: ['*'],
      maxPayload: 10,
      outboundLimit: 20,
      heartbeatInterval: 30,
      handshakeTimeout: 40,
      shutdownTimeout: 0,
      requireProtocol: true,
      perMessageDeflate: { ...PER_MESSAGE_DEFLATE_DEFAULTS, threshold: 0, serverNoContextTakeover: true },
      bus,
      logger,
      presenceTimeout: 1_500,
      tls: { cert: 'CERT PEM', key: 'KEY PEM' },
      server: createHttpServer(),
      path: '/live',
      observer: {},
      httpEndpoints: () => undefined,
    };
    const resolved = resolveServerOptions(options);
    expect(resolved).toStrictEqual(options);
    expect(resolved.bus).toBe(bus);
    expect(resolved.logger).toBe(logger);
  });

  it('refuses a tls without cert or key and a path that is not one', () => {
    expect(() => resolveServerOptions({ tls: { cert: 'CERT PEM' } as never })).toThrow(/cert and key/);
    expect(() => resolveServerOptions({ path: 'live' })).toThrow(/must start with "\/"/);
    expect(() => resolveServerOptions({ path: '/live?x=1' })).toThrow(/no query/);
  });

  it("an adapter's defaults replace the contract's, and the user's options replace the adapter's", () => {
    const adapter: Partial<ServerOptions> = { requireProtocol: true, heartbeatInterval: 5_000 };
    expect(resolveServerOptions({}, adapter)).toMatchObject({ requireProtocol: true, heartbeatInterval: 5_000 });
    expect(resolveServerOptions({ requireProtocol: false }, adapter)).toMatchObject({
      requireProtocol: false,
      heartbeatInterval: 5_000,
    });
    expect(resolveServerOptions({ heartbeatInterval: 7_000 }, adapter)).toMatchObject({
      requireProtocol: true,
      heartbeatInterval: 7_000,
    });
    // What neither sets keeps the contract default.
    expect(resolveServerOptions({}, adapter).maxPayload).toBe(DEFAULTS.maxPayload);
  });

  it('an option set to undefined overrides nothing: neither the adapter default nor the contract default', () => {
    const allUndefined: Record<keyof ServerOptions, undefined> = {
      port: undefined,
      host: undefined,
      allowedOrigins: undefined,
      maxPayload: undefined,
      outboundLimit: undefined,
      heartbeatInterval: undefined,
      handshakeTimeout: undefined,
      shutdownTimeout: undefined,
      requireProtocol: undefined,
      perMessageDeflate: undefined,
      bus: undefined,
      logger: undefined,
      presenceTimeout: undefined,
      tls: undefined,
      server: undefined,
      path: undefined,
      observer: undefined,
      httpEndpoints: undefined,
    };
    expect(resolveServerOptions(allUndefined)).toStrictEqual(resolveServerOptions());
    // e.g. a CLI that passes `requireProtocol: flags.requireProtocol` without the flag
    expect(resolveServerOptions({ requireProtocol: undefined }, { requireProtocol: true }).requireProtocol).toBe(true);
    expect(resolveServerOptions({ shutdownTimeout: undefined }, { shutdownTimeout: 1 }).shutdownTimeout).toBe(1);
  });

  it('permessage-deflate is off by default; true takes the defaults; parameters out of range are refused', () => {
    expect(resolveServerOptions().perMessageDeflate).toBe(false);
    expect(resolveServerOptions({ perMessageDeflate: true }).perMessageDeflate).toStrictEqual(
      PER_MESSAGE_DEFLATE_DEFAULTS,
    );
    expect(resolvePerMessageDeflate({ threshold: 0 })).toStrictEqual({ ...PER_MESSAGE_DEFLATE_DEFAULTS, threshold: 0 });
    expect(() => resolvePerMessageDeflate({ serverMaxWindowBits: 7 })).toThrow(
      /serverMaxWindowBits must be an integer from 8 to 15, got 7/,
    );
    expect(() => resolvePerMessageDeflate({ clientMaxWindowBits: 16 })).toThrow(/clientMaxWindowBits/);
    expect(() => resolvePerMessageDeflate({ threshold: -1 })).toThrow(/threshold must be zero or more/);
  });

  it('a zero shutdown timeout is allowed: terminate at once', () => {
    expect(resolveServerOptions({ shutdownTimeout: 0 }).shutdownTimeout).toBe(0);
  });

  describe.each([
    'maxPayload',
    'outboundLimit',
    'heartbeatInterval',
    'handshakeTimeout',
    'presenceTimeout',
  ] as const)('%s must be a positive number', (name) => {
    it.each([
      0,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ])('%s is refused, naming the option and the value', (value) => {
      expect(() => resolveServerOptions({ [name]: value })).toThrow(
        new RangeError(`${name} must be a positive number, got ${value}`),
      );
    });

    it('also when the value is an adapter default', () => {
      expect(() => resolveServerOptions({}, { [name]: -5 })).toThrow(
        new RangeError(`${name} must be a positive number, got -5`),
      );
    });

    it('a fraction is fine', () => {
      expect(resolveServerOptions({ [name]: 0.5 })[name]).toBe(0.5);
    });
  });

  it.each([
    -1,
    Number.NaN,
    Number.NEGATIVE_INFINITY,
    Number.POSITIVE_INFINITY,
  ])('shutdownTimeout %s is refused: it must be zero or more', (value) => {
    expect(() => resolveServerOptions({ shutdownTimeout: value })).toThrow(
      new RangeError(`shutdownTimeout must be zero or more, got ${value}`),
    );
  });

  describe.each([
    'heartbeatInterval',
    'handshakeTimeout',
    'shutdownTimeout',
    'presenceTimeout',
  ] as const)('%s must fit a Node timer (2^31 - 1 ms): a longer one would fire at once', (name) => {
    it('2^31 - 1 ms is accepted', () => {
      expect(resolveServerOptions({ [name]: MAX_TIMER_MS })[name]).toBe(MAX_TIMER_MS);
    });

    it('2^31 ms is refused with the limit in the message', () => {
      expect(() => resolveServerOptions({ [name]: 2 ** 31 })).toThrow(
        new RangeError(`${name} must be at most 2147483647 ms (about 24.8 days), got 2147483648`),
      );
    });
  });

  it('the sizes are not timers: a max payload over 2^31 - 1 bytes is accepted', () => {
    expect(resolveServerOptions({ maxPayload: 2 ** 32, outboundLimit: 2 ** 32 })).toMatchObject({
      maxPayload: 2 ** 32,
      outboundLimit: 2 ** 32,
    });
  });
});
