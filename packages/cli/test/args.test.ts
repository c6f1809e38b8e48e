import { describe, expect, it } from 'vitest';
import { parseDuration, parseServerArgs, parseSize, usage } from '../src/index.js';

const spec = { name: 'x-server', defaultPort: 1234 };

describe('parseSize / parseDuration', () => {
  it.each([
    ['1048576', 1048576],
    ['512KiB', 524288],
    ['1MiB', 1048576],
    ['1.5mb', 1_500_000],
  ])('size %s', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  it.each(['', 'lots', '-1', '0', '1 parsec'])('refuses size %j', (text) =>
    expect(() => parseSize(text)).toThrow(RangeError));
  it.each([
    ['500', 500],
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
  ])('duration %s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['soon', '1h', '-5s', '40000m', '2147483648'])('refuses duration %j', (text) =>
    expect(() => parseDuration(text)).toThrow(RangeError));
});

describe('parseServerArgs', () => {
  it('uses the app default port and the contract host', () => {
    expect(parseServerArgs(spec, []).options).toMatchObject({ port: 1234, host: '127.0.0.1' });
  });
  it('maps every flag to an option', () => {
    const { options, verbose } = parseServerArgs(spec, [
      '--port',
      '0',
      '--host',
      '::1',
      '--origin',
      'https://a.example',
      '--origin',
      '*',
      '--max-payload',
      '64KiB',
      '--outbound-limit',
      '8MiB',
      '--heartbeat',
      '5s',
      '--handshake-timeout',
      '2s',
      '--shutdown-timeout',
      '0',
      '--require-protocol',
      '--presence-timeout',
      '1.5s',
      '--verbose',
    ]);
    expect(options).toEqual({
      port: 0,
      host: '::1',
      allowedOrigins: ['https://a.example', '*'],
      maxPayload: 65536,
      outboundLimit: 8 * 1024 * 1024,
      heartbeatInterval: 5000,
      handshakeTimeout: 2000,
      shutdownTimeout: 0,
      requireProtocol: true,
      presenceTimeout: 1500,
    });
    expect(verbose).toBe(true);
  });
  it('keeps adapter defaults unless a flag overrides them', () => {
    const withDefault = { ...spec, defaults: { requireProtocol: true } };
    expect(parseServerArgs(withDefault, []).options.requireProtocol).toBe(true);
    expect(parseServerArgs(withDefault, ['--no-require-protocol']).options.requireProtocol).toBe(false);
  });
  it.each([
    [['--port', '70000'], /not a port/],
    [['--heartbeat', '0'], /more than 0/],
    [['--presence-timeout', '0'], /--presence-timeout must be more than 0/],
    [['--nope'], /Unknown option/],
    [['stray'], /unexpected argument/],
    [['--port', '0', '--', '--help'], /unexpected argument "--help"/],
    [['--heartbeat', '-5'], /^--heartbeat must be more than 0, got "-5"$/],
    [['--handshake-timeout', '-1s'], /^--handshake-timeout must be more than 0/],
    [['-p', '-1'], /"-1" is not a port/],
    [['--max-payload', ''], /^--max-payload needs a value, got an empty one/],
    [['--origin', 'https://a.example', '--origin', ''], /^--origin needs a value, got an empty one/],
    [['--outbound-limit='], /^--outbound-limit needs a value/],
    [['--require-protocol', '--no-require-protocol'], /contradict/],
    [['--redis-url', 'localhost:6379'], /not a redis:\/\/ or rediss:\/\/ URL/],
    [['--redis-url', 'nope'], /not a URL/],
    [['--redis-url', 'redis://127.0.0.1', '--redis-prefix', 'has space'], /--redis-prefix/],
    [['--workers', '0'], /not a process count/],
    [['--workers', '1.5'], /not a process count/],
    [['--workers', '2'], /--workers 2 needs --redis-url/],
  ])('refuses %j', (argv, message) => expect(() => parseServerArgs(spec, argv)).toThrow(message));
  it('takes the flags after the `--` pnpm 10 passes through, the same as without it', () => {
    const argv = ['--port', '0', '--heartbeat', '5s', '--help'];
    expect(parseServerArgs(spec, ['--', ...argv])).toEqual(parseServerArgs(spec, argv));
    expect(parseServerArgs(spec, ['--', '--help']).help).toBe(true);
    expect(parseServerArgs(spec, ['--port', '0']).portGiven).toBe(true);
    expect(parseServerArgs(spec, []).portGiven).toBe(false);
  });
  it('has no bus and one process unless asked', () => {
    expect(parseServerArgs(spec, [])).toMatchObject({ redisUrl: undefined, redisPrefix: 'socketlab', workers: 1 });
  });
  it('takes the scale-out flags', () => {
    const parsed = parseServerArgs(spec, [
      '--redis-url',
      'redis://:secret@10.0.0.5:6380/2',
      '--redis-prefix',
      'chat:eu-1',
      '-w',
      '3',
    ]);
    expect(parsed).toMatchObject({ redisUrl: 'redis://:secret@10.0.0.5:6380/2', redisPrefix: 'chat:eu-1', workers: 3 });
    // Not adapter options: they stay out of what createServer gets.
    expect(parsed.options).not.toHaveProperty('redisUrl');
    expect(parseServerArgs(spec, ['--workers', 'auto', '--redis-url', 'rediss://r'])!.workers).toBeGreaterThanOrEqual(
      1,
    );
  });
  it('documents the scale-out flags in the usage text', () => {
    const text = usage(spec);
    for (const flag of ['--redis-url URL', '--redis-prefix P', '--workers N']) expect(text).toContain(flag);
  });
});

describe('TLS flags', () => {
  it('takes --tls-cert, --tls-key and --tls-ca as file names (read at start, and on SIGHUP)', () => {
    expect(parseServerArgs(spec, []).tls).toBeUndefined();
    expect(parseServerArgs(spec, ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']).tls).toStrictEqual({
      certFile: 'c.pem',
      keyFile: 'k.pem',
      caFile: undefined,
    });
    expect(
      parseServerArgs(spec, ['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-ca', 'ca.pem']).tls,
    ).toMatchObject({
      caFile: 'ca.pem',
    });
    // Files, not options: createServer gets the PEM contents from the app.
    expect(parseServerArgs(spec, ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']).options).not.toHaveProperty('tls');
  });
  it('refuses a certificate without its key, a key without its certificate, and a CA alone', () => {
    expect(() => parseServerArgs(spec, ['--tls-cert', 'c.pem'])).toThrow(/--tls-cert and --tls-key go together/);
    expect(() => parseServerArgs(spec, ['--tls-key', 'k.pem'])).toThrow(/--tls-cert and --tls-key go together/);
    expect(() => parseServerArgs(spec, ['--tls-ca', 'ca.pem'])).toThrow(/--tls-ca needs --tls-cert/);
  });
  it('documents them in the usage text', () => {
    const text = usage(spec);
    for (const flag of ['--tls-cert FILE', '--tls-key FILE', '--tls-ca FILE']) expect(text).toContain(flag);
  });
});

describe('the `--` pnpm passes on', () => {
  it('reads the flags after a leading `--` (pnpm --filter X start -- --port 1)', () => {
    expect(parseServerArgs(spec, ['--', '--port', '1', '--verbose'])).toMatchObject({
      options: { port: 1 },
      verbose: true,
    });
  });
});

describe('--per-message-deflate', () => {
  it('is off by default', () => {
    expect(parseServerArgs(spec, []).options).not.toHaveProperty('perMessageDeflate');
  });
  it('turns compression on with the defaults', () => {
    expect(parseServerArgs(spec, ['--per-message-deflate']).options.perMessageDeflate).toBe(true);
  });
  it.each([
    ['0', 0],
    ['256', 256],
    ['4KiB', 4096],
  ])('takes a threshold %s', (text, bytes) => {
    const { options } = parseServerArgs(spec, ['--per-message-deflate', '--per-message-deflate-threshold', text]);
    expect(options.perMessageDeflate).toEqual({ threshold: bytes });
  });
  it.each([
    [['--per-message-deflate-threshold', '1KiB'], /needs --per-message-deflate/],
    [['--per-message-deflate', '--per-message-deflate-threshold', 'big'], /not a size/],
  ])('refuses %j', (argv, message) => expect(() => parseServerArgs(spec, argv)).toThrow(message));
  it('is in the usage text', () => {
    const text = usage(spec);
    expect(text).toContain('--per-message-deflate ');
    expect(text).toContain('--per-message-deflate-threshold SIZE');
  });
});

describe('log level and metrics flags', () => {
  it('is warn by default; --log-level picks info or debug; --verbose is debug', () => {
    expect(parseServerArgs(spec, [], {}).logLevel).toBe('warn');
    expect(parseServerArgs(spec, ['--log-level', 'info'], {}).logLevel).toBe('info');
    expect(parseServerArgs(spec, ['--log-level', 'debug'], {}).logLevel).toBe('debug');
    expect(parseServerArgs(spec, ['--verbose'], {}).logLevel).toBe('debug');
    expect(() => parseServerArgs(spec, ['--log-level', 'loud'], {})).toThrow(/--log-level "loud" is not one of/);
  });
  it('keeps /healthz and /metrics on the public port unless --metrics-port', () => {
    expect(parseServerArgs(spec, [], {}).metrics).toEqual({ port: undefined, host: '127.0.0.1' });
    expect(parseServerArgs(spec, ['--metrics-port', '0', '--metrics-host', '::1'], {}).metrics).toEqual({
      port: 0,
      host: '::1',
    });
    expect(() => parseServerArgs(spec, ['--metrics-port', 'x'], {})).toThrow(/not a port/);
  });
});

describe('environment variables', () => {
  it('reads every kind of flag from SOCKETLAB_*', () => {
    const parsed = parseServerArgs(spec, [], {
      SOCKETLAB_PORT: '0',
      SOCKETLAB_ORIGIN: 'https://a.example, https://b.example',
      SOCKETLAB_MAX_PAYLOAD: '64KiB',
      SOCKETLAB_REQUIRE_PROTOCOL: 'true',
      SOCKETLAB_REDIS_URL: 'redis://127.0.0.1:6379',
      SOCKETLAB_LOG_LEVEL: 'info',
      SOCKETLAB_VERBOSE: '0',
      SOCKETLAB_HELP: '1',
    });
    expect(parsed.options).toMatchObject({
      port: 0,
      allowedOrigins: ['https://a.example', 'https://b.example'],
      maxPayload: 65536,
      requireProtocol: true,
    });
    expect(parsed).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', logLevel: 'info', help: false });
  });
  it('lets the flag win over its variable, a no- twin included', () => {
    const env = { SOCKETLAB_PORT: '4000', SOCKETLAB_ORIGIN: 'https://env.example', SOCKETLAB_REQUIRE_PROTOCOL: '1' };
    const parsed = parseServerArgs(spec, ['--port=5000', '--origin', '*', '--no-require-protocol'], env);
    expect(parsed.options).toMatchObject({ port: 5000, allowedOrigins: ['*'], requireProtocol: false });
    expect(parseServerArgs(spec, ['-p', '6000'], env).options.port).toBe(6000);
  });
  it('names the variable a bad value came from', () => {
    expect(() => parseServerArgs(spec, [], { SOCKETLAB_PORT: 'eighty' })).toThrow(
      /"eighty" is not a port.*\(from SOCKETLAB_PORT\)/,
    );
    expect(() => parseServerArgs(spec, [], { SOCKETLAB_VERBOSE: 'maybe' })).toThrow(
      /SOCKETLAB_VERBOSE="maybe" is not a boolean/,
    );
  });
  it('lists every flag and its variable in --help', () => {
    const text = usage(spec);
    for (const [flag, variable] of [
      ['--port', 'SOCKETLAB_PORT'],
      ['--redis-url', 'SOCKETLAB_REDIS_URL'],
      ['--no-require-protocol', 'SOCKETLAB_NO_REQUIRE_PROTOCOL'],
      ['--metrics-port', 'SOCKETLAB_METRICS_PORT'],
    ]) {
      expect(text).toMatch(new RegExp(`^  ${flag} +${variable}$`, 'm'));
    }
    expect(text).not.toContain('SOCKETLAB_HELP');
  });
});

describe('through pnpm', () => {
  it('takes the flags after the leading -- that `pnpm --filter X start -- ...` passes on', () => {
    expect(parseServerArgs(spec, ['--', '--port', '0', '--log-level', 'info'], {})).toMatchObject({
      options: { port: 0 },
      logLevel: 'info',
    });
  });
});

describe('environment variables with the command line as pnpm passes it', () => {
  it('puts the variables before a command line that starts with -- and keeps its negative values', () => {
    const env = { SOCKETLAB_PORT: '0', SOCKETLAB_HEARTBEAT: '5s' };
    expect(parseServerArgs(spec, ['--', '--heartbeat', '2s'], env).options).toMatchObject({
      port: 0,
      heartbeatInterval: 2000,
    });
    expect(() => parseServerArgs(spec, ['--', '--heartbeat', '-5'], env)).toThrow(/--heartbeat must be more than 0/);
  });
  it('refuses an empty variable like an empty flag, naming the variable', () => {
    expect(() => parseServerArgs(spec, [], { SOCKETLAB_HOST: '' })).toThrow(
      /--host needs a value, got an empty one.*\(from SOCKETLAB_HOST\)/,
    );
  });
});
