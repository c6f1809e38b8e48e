import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { checkRedisUrl, DEFAULT_BUS_PREFIX } from '@socketlab/bus';
import { DEFAULTS, PER_MESSAGE_DEFLATE_DEFAULTS, type ServerOptions } from '@socketlab/contract';
import { parseDuration, parsePort, parseSize } from './units.js';

export interface ServerAppSpec {
  /** The app's package name, e.g. `ws-server`. */
  name: string;
  defaultPort: number;
  /** Adapter defaults that differ from the contract's (websocket: requireProtocol). */
  defaults?: Partial<ServerOptions>;
}

export interface ParsedArgs {
  options: ServerOptions & { port: number; host: string };
  /** Scale-out: share broadcasts, joins and leaves with every server on this Redis. */
  redisUrl: string | undefined;
  /** The room's namespace on Redis (channel `<prefix>:room`). */
  redisPrefix: string;
  /** Processes serving the port; 1 means this process serves it alone. */
  workers: number;
  verbose: boolean;
  /** pino level: `warn` (default), `info` or `debug` (`--verbose` is `debug`). */
  logLevel: LogLevel;
  /** Where /healthz and /metrics are served: `port` undefined means on the public port. */
  metrics: { port: number | undefined; host: string };
  help: boolean;
  /** --port was on the command line (the root `pnpm start` gives it its own meaning). */
  portGiven: boolean;
  /** --tls-cert / --tls-key / --tls-ca: the PEM files to serve wss:// (https://) with; read at start and on SIGHUP. */
  tls: TlsFiles | undefined;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string | undefined;
}

export const LOG_LEVELS = ['warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const FLAGS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  origin: { type: 'string', multiple: true },
  'max-payload': { type: 'string' },
  'outbound-limit': { type: 'string' },
  heartbeat: { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'require-protocol': { type: 'boolean' },
  'no-require-protocol': { type: 'boolean' },
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string' },
  'presence-timeout': { type: 'string' },
  workers: { type: 'string', short: 'w' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'per-message-deflate': { type: 'boolean' },
  'per-message-deflate-threshold': { type: 'string' },
  'log-level': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
} as const;

export function usage(spec: ServerAppSpec): string {
  const requireDefault = spec.defaults?.requireProtocol ?? DEFAULTS.requireProtocol;
  return `Usage: pnpm --filter ${spec.name} start [--] [flags]

Flags:
  -p, --port N                port to listen on (default ${spec.defaultPort}; 0 picks a free one)
      --host H                interface to bind (default ${DEFAULTS.host})
      --origin O              allowed Origin; repeat for more; '*' allows all
                              (default: http://localhost and http://127.0.0.1, any port)
      --max-payload SIZE      largest message, e.g. 1MiB (default 1MiB); bigger closes with 1009
      --outbound-limit SIZE   unsent bytes per connection before it is dropped (default 4MiB)
      --heartbeat DURATION    ping interval, e.g. 30s (default 30s)
      --handshake-timeout D   time to send a complete upgrade request (default 10s)
      --shutdown-timeout D    time for closing handshakes on shutdown (default 5s)
      --require-protocol      refuse clients that do not offer echo-protocol${requireDefault ? ' (default)' : ''}
      --no-require-protocol   accept clients that offer no subprotocol${requireDefault ? '' : ' (default)'}
      --redis-url URL         scale out: share broadcasts, joins and leaves with every server
                              on this Redis, e.g. redis://127.0.0.1:6379 (default: this process only);
                              unreachable at start: exit 1
      --redis-prefix P        the room's namespace on Redis: servers with the same Redis and
                              prefix are one room (default ${DEFAULT_BUS_PREFIX})
      --presence-timeout D    with --redis-url: a server process silent this long is gone and its
                              clients get leave everywhere else (default ${DEFAULTS.presenceTimeout / 1000}s)
  -w, --workers N             N processes on one port (node:cluster; 'auto' = one per CPU);
                              N > 1 needs --redis-url, which carries the room between them
      --tls-cert FILE         serve wss:// (socket.io: https://) with this PEM certificate (chain);
                              SIGHUP reloads it and the key, open connections stay
      --tls-key FILE          the PEM private key of --tls-cert (both or neither)
      --tls-ca FILE           PEM CA certificates sent along with --tls-cert's chain
      --per-message-deflate   negotiate permessage-deflate (RFC 7692) with clients that offer it
                              (default off; the websocket app cannot compress and answers uncompressed)
      --per-message-deflate-threshold SIZE
                              with --per-message-deflate: smaller messages go uncompressed
                              (default ${PER_MESSAGE_DEFLATE_DEFAULTS.threshold}B)
      --log-level L           warn (default), info (refusals, protocol closes, drops, timeouts,
                              bus outages) or debug (every connection event); JSON on stderr
  -v, --verbose               the same as --log-level debug
      --metrics-port N        serve /healthz and /metrics on this port instead of the public
                              one (0 picks a free one; the line "metrics on URL" says which)
      --metrics-host H        interface for --metrics-port (default 127.0.0.1); without
                              --metrics-port they answer loopback peers only
  -h, --help                  show this text
${environmentUsage()}`;
}

/** Parses argv into server options; throws an Error whose message says what was wrong. */
export function parseServerArgs(
  spec: ServerAppSpec,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedArgs {
  const flags = negativeValuesAttached(withoutLeadingSeparator(argv));
  // The environment's flags go first: one given on the command line keeps its variable out.
  const fromEnv = environmentArgs(flags, env);
  try {
    return parseFlags(spec, [...fromEnv.args, ...flags]);
  } catch (error) {
    // Say where a bad value came from when it came from the environment.
    const message = (error as Error).message;
    const source =
      fromEnv.names.find(([flag]) => message.includes(`--${flag}`)) ??
      fromEnv.names.find(([, variable]) => message.includes(`"${env[variable]}"`));
    if (source) (error as Error).message = `${message} (from ${source[1]})`;
    throw error;
  }
}

function parseFlags(spec: ServerAppSpec, argv: readonly string[]): ParsedArgs {
  const { values, positionals } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  for (const [name, value] of Object.entries(values)) {
    const texts = Array.isArray(value) ? value : [value];
    // An empty value is a mistake (an unset shell variable), never "use the default".
    if (texts.some((text) => typeof text === 'string' && text.trim() === '')) {
      throw new Error(`--${name} needs a value, got an empty one (see --help)`);
    }
  }
  if (values['require-protocol'] && values['no-require-protocol']) {
    throw new Error('--require-protocol and --no-require-protocol contradict each other');
  }
  const options: ParsedArgs['options'] = {
    ...spec.defaults,
    port: values.port === undefined ? spec.defaultPort : parsePort(values.port),
    host: values.host ?? DEFAULTS.host,
  };
  if (values.origin) options.allowedOrigins = values.origin;
  if (values['max-payload'] !== undefined) options.maxPayload = parseSize(values['max-payload']);
  if (values['outbound-limit'] !== undefined) options.outboundLimit = parseSize(values['outbound-limit']);
  if (values.heartbeat !== undefined) options.heartbeatInterval = positiveDuration('--heartbeat', values.heartbeat);
  if (values['handshake-timeout'] !== undefined) {
    options.handshakeTimeout = positiveDuration('--handshake-timeout', values['handshake-timeout']);
  }
  if (values['shutdown-timeout'] !== undefined) options.shutdownTimeout = parseDuration(values['shutdown-timeout']);
  if (values['presence-timeout'] !== undefined) {
    options.presenceTimeout = positiveDuration('--presence-timeout', values['presence-timeout']);
  }
  if (values['require-protocol']) options.requireProtocol = true;
  if (values['no-require-protocol']) options.requireProtocol = false;
  const threshold = values['per-message-deflate-threshold'];
  if (threshold !== undefined && !values['per-message-deflate']) {
    throw new Error('--per-message-deflate-threshold needs --per-message-deflate');
  }
  if (values['per-message-deflate']) {
    options.perMessageDeflate = threshold === undefined ? true : { threshold: parseThreshold(threshold) };
  }
  const redisUrl = values['redis-url'];
  if (redisUrl !== undefined) checkRedisUrl(redisUrl);
  const redisPrefix = values['redis-prefix'] ?? DEFAULT_BUS_PREFIX;
  if (!/^[\w.:-]+$/.test(redisPrefix)) {
    throw new RangeError(`--redis-prefix "${redisPrefix}" may hold only letters, digits and _ . : -`);
  }
  const workers = values.workers === undefined ? 1 : parseWorkers(values.workers);
  if (workers > 1 && redisUrl === undefined) {
    throw new Error(
      `--workers ${workers} needs --redis-url: the workers are separate processes and share ` +
        'broadcasts, joins and leaves through Redis (e.g. --redis-url redis://127.0.0.1:6379)',
    );
  }
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error('--tls-cert and --tls-key go together: give both PEM files, or neither');
  }
  if (values['tls-ca'] !== undefined && certFile === undefined)
    throw new Error('--tls-ca needs --tls-cert and --tls-key');
  const tls = certFile && keyFile ? { certFile, keyFile, caFile: values['tls-ca'] } : undefined;
  const logLevel = values['log-level'] ?? 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new RangeError(`--log-level "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const verbose = values.verbose ?? false;
  return {
    tls,
    options,
    redisUrl,
    redisPrefix,
    workers,
    verbose,
    logLevel: verbose ? 'debug' : (logLevel as LogLevel),
    metrics: {
      port: values['metrics-port'] === undefined ? undefined : parsePort(values['metrics-port']),
      host: values['metrics-host'] ?? DEFAULTS.host,
    },
    help: values.help ?? false,
    portGiven: values.port !== undefined,
  };
}

/**
 * pnpm 10 hands a script the `--` of `pnpm start -- --port 0`; pnpm 9 and npm drop it.
 * A leading one is the package manager's separator, not an argument: both forms mean the same.
 */
export function withoutLeadingSeparator(argv: readonly string[]): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}

/**
 * `--heartbeat -5` would read to parseArgs as a flag `-5` ("ambiguous"); a value that looks like
 * a negative number is the flag's value, so the flag's own check refuses it with its own words.
 */
function negativeValuesAttached(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : SHORT_FLAGS.get(arg);
    if (name !== undefined && STRING_FLAGS.has(name) && next !== undefined && /^-\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

const STRING_FLAGS = new Set(Object.entries(FLAGS).flatMap(([name, flag]) => (flag.type === 'string' ? [name] : [])));
const SHORT_FLAGS = new Map<string, string>(
  Object.entries(FLAGS).flatMap(([name, flag]) => ('short' in flag ? [[`-${flag.short}`, name] as const] : [])),
);

/** Flags with no environment variable: asking for help is not configuration. */
const NOT_FROM_ENV: ReadonlySet<string> = new Set(['help']);

/** `max-payload` -> `SOCKETLAB_MAX_PAYLOAD`. */
export function environmentName(flag: string): string {
  return `SOCKETLAB_${flag.toUpperCase().replaceAll('-', '_')}`;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off', '']);

/**
 * Every flag of the table read from its environment variable, as flag tokens that go before
 * the command line's: a flag given on the command line (or its `no-` twin) keeps its env
 * variable out, so the flag wins. Lists (`--origin`) are comma-separated; booleans are
 * 1/true/yes/on or 0/false/no/off.
 */
function environmentArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { args: string[]; names: [flag: string, variable: string][] } {
  const given = new Set<string>();
  const { tokens } = parseArgs({
    args: [...argv],
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    given.add(token.name);
    given.add(token.name.startsWith('no-') ? token.name.slice(3) : `no-${token.name}`);
  }
  const args: string[] = [];
  const names: [string, string][] = [];
  for (const [flag, spec] of Object.entries(FLAGS) as [string, { type: string; multiple?: boolean }][]) {
    const variable = environmentName(flag);
    const value = env[variable];
    if (value === undefined || given.has(flag) || NOT_FROM_ENV.has(flag)) continue;
    names.push([flag, variable]);
    if (spec.type === 'boolean') {
      const word = value.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) args.push(`--${flag}`);
      else if (!FALSE_WORDS.has(word)) {
        throw new RangeError(`${variable}="${value}" is not a boolean (1, true, yes, on or 0, false, no, off)`);
      }
    } else if (spec.multiple) {
      for (const item of value.split(',')) if (item.trim() !== '') args.push(`--${flag}=${item.trim()}`);
    } else {
      args.push(`--${flag}=${value}`);
    }
  }
  return { args, names };
}

/** The environment part of --help, from the flag table (so every flag added there is listed). */
function environmentUsage(): string {
  const lines = Object.keys(FLAGS)
    .filter((flag) => !NOT_FROM_ENV.has(flag))
    .map((flag) => `  ${`--${flag}`.padEnd(26)}  ${environmentName(flag)}`);
  return `
Environment: every flag also reads a variable (the flag on the command line wins);
lists are comma-separated, booleans 1/true or 0/false:
${lines.join('\n')}
`;
}

function positiveDuration(flag: string, text: string): number {
  if (text.trim().startsWith('-')) throw new RangeError(`${flag} must be more than 0, got "${text}"`);
  const ms = parseDuration(text);
  if (ms <= 0) throw new RangeError(`${flag} must be more than 0`);
  return ms;
}

/** A size like `--max-payload`, but 0 is allowed: compress every message. */
function parseThreshold(text: string): number {
  return /^0+\s*[a-z]*$/i.test(text.trim()) ? 0 : parseSize(text);
}

function parseWorkers(text: string): number {
  if (text === 'auto') return availableParallelism();
  const workers = Number(text);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new RangeError(`--workers "${text}" is not a process count (1-256, or auto)`);
  }
  return workers;
}
