import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONTENDERS } from './contenders.js';
import { ECHO_CONTENTS, type EchoContent } from './load/payloads.js';

/** apps/bench/results */
export const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export type Mode = 'quick' | 'full' | 'smoke';

/**
 * The measured phases of a round, in the order they run; each starts its own server.
 * `tls`: the connection rate and the echo's server CPU again, the server on wss:// (https://).
 */
export const PHASES = ['connect', 'memory', 'echo', 'broadcast', 'tls'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchConfig {
  mode: Mode;
  rounds: number;
  contenders: string[];
  /** Which phases run (default all); the table shows only their figures. */
  phases: Phase[];
  loadProcesses: number;
  echoConnections: number;
  echoPayloads: number[];
  /** What the echoes carry, each at every payload size (load/payloads.ts): repeated, chat-like JSON, random. */
  echoContents: EchoContent[];
  /** The chat-like JSON of the compressed-broadcast burst, in bytes (over the 1 KiB compression threshold). */
  broadcastChatBytes: number;
  warmupMs: number;
  echoMs: number;
  broadcastClients: number;
  broadcasts: number;
  burst: number;
  broadcastPadBytes: number;
  /** Clients opened, welcomed and closed again, `connectConcurrency` at a time: connections per second. */
  connectClients: number;
  /** Clients held open at once for the idle memory figure. */
  idleClients: number;
  /** The idle-memory phase runs in this many of the rounds (it is quadratic in idleClients: joins). */
  memoryRounds: number;
  /** Extra server flags to pass: `--cpu-prof` writes a V8 CPU profile of every server here. */
  cpuProfileDir: string | undefined;
  /** Handshakes in flight at once, over all load processes. */
  connectConcurrency: number;
  phaseTimeoutMs: number;
  /** Where latest.json/.md and the charts go; undefined: apps/bench/results. */
  outDir: string | undefined;
  /** Print the JSON on stdout instead of the terminal table. */
  json: boolean;
  soak: boolean;
  soakClients: number;
  soakMs: number;
  soakEchoIntervalMs: number;
  soakBroadcastIntervalMs: number;
}

const QUICK: Omit<BenchConfig, 'contenders' | 'phases' | 'outDir' | 'json' | 'soak' | 'cpuProfileDir'> = {
  mode: 'quick',
  rounds: 3,
  loadProcesses: 1,
  echoConnections: 50,
  echoPayloads: [64, 16 * 1024],
  echoContents: [...ECHO_CONTENTS],
  broadcastChatBytes: 2048,
  warmupMs: 400,
  echoMs: 1500,
  broadcastClients: 200,
  broadcasts: 20,
  burst: 20,
  broadcastPadBytes: 32,
  connectClients: 1000,
  idleClients: 1000,
  memoryRounds: 3,
  connectConcurrency: 50,
  phaseTimeoutMs: 120_000,
  soakClients: 2000,
  soakMs: 120_000,
  soakEchoIntervalMs: 1000,
  soakBroadcastIntervalMs: 2000,
};

const FULL: typeof QUICK = {
  ...QUICK,
  mode: 'full',
  rounds: 5,
  loadProcesses: 2,
  warmupMs: 1000,
  echoMs: 5000,
  broadcastClients: 1000,
  broadcasts: 50,
  burst: 100,
  connectClients: 5000,
  idleClients: 10_000,
  memoryRounds: 1,
  // socket.io long-polling needs about 11 minutes for the join storm of 10,000 clients here.
  phaseTimeoutMs: 2_400_000,
  soakClients: 5000,
  soakMs: 300_000,
};

/** The test's size: every phase runs end to end, in seconds. */
const SMOKE: typeof QUICK = {
  ...QUICK,
  mode: 'smoke',
  rounds: 1,
  echoConnections: 4,
  warmupMs: 100,
  echoMs: 300,
  broadcastClients: 10,
  broadcasts: 3,
  burst: 5,
  connectClients: 10,
  idleClients: 20,
  memoryRounds: 1,
  connectConcurrency: 5,
  phaseTimeoutMs: 30_000,
  soakClients: 10,
  soakMs: 3000,
  soakEchoIntervalMs: 100,
  soakBroadcastIntervalMs: 500,
};

export const USAGE = `Usage: pnpm bench [--] [flags]

  (default)             quick: ${QUICK.rounds} rounds, ${QUICK.echoMs / 1000} s echo windows, ${QUICK.broadcastClients} broadcast clients,
                        ${QUICK.connectClients} connections timed, ${QUICK.idleClients} idle connections (a few minutes)
  --full                ${FULL.rounds} rounds, ${FULL.echoMs / 1000} s windows, ${FULL.broadcastClients} broadcast clients,
                        ${FULL.connectClients} connections timed, ${FULL.idleClients} idle connections (first round only),
                        ${FULL.loadProcesses} load processes; long on 2 cores: 10,000 connections mean 50 million joins
  --smoke               the test's size (1 round, a handful of clients)
  --contenders a,b      which contenders (default all: ${CONTENDERS.map((c) => c.name).join(', ')})
  --phases a,b          which phases (default all: ${PHASES.join(', ')})
  --rounds N            rounds (each figure is the median over them, with min and max)
  --clients N           broadcast clients (soak: clients)
  --duration D          echo window per payload (soak: total soak time); e.g. 3s, 2m
  --load-processes N    load-generator processes
  --connect-clients N   clients opened, welcomed and closed for connections/s
  --idle-clients N      clients held open for memory per connection
  --memory-rounds N     in how many rounds the idle-memory phase runs (it is quadratic: joins)
  --payloads 64,16384   echo payload sizes in bytes (default 64,16384)
  --cpu-prof            write a V8 CPU profile of every server process to <out>/profiles
  --soak                soak mode: clients echo and broadcast for --duration; lost, duplicated
                        and reordered messages must be 0 and memory flat
  --json                JSON on stdout instead of the table (files are written either way)
  --out DIR             where the result files go (default apps/bench/results)
  -h, --help            this text
`;

function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!match) throw new Error(`bad duration "${text}" (e.g. 500ms, 3s, 2m)`);
  const value = Number(match[1]);
  return match[2] === 'm' ? value * 60_000 : match[2] === 's' ? value * 1000 : value;
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return value;
}

/** Parses the benchmark's flags; throws with a message that says what was wrong. */
export function parseConfig(argv: readonly string[]): BenchConfig | 'help' {
  const { values } = parseArgs({
    args: argv.filter((arg) => arg !== '--'),
    strict: true,
    options: {
      full: { type: 'boolean' },
      smoke: { type: 'boolean' },
      contenders: { type: 'string' },
      phases: { type: 'string' },
      rounds: { type: 'string' },
      clients: { type: 'string' },
      duration: { type: 'string' },
      'load-processes': { type: 'string' },
      'connect-clients': { type: 'string' },
      'idle-clients': { type: 'string' },
      'memory-rounds': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      payloads: { type: 'string' },
      soak: { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.full && values.smoke) throw new Error('--full and --smoke contradict each other');
  const base = values.full ? FULL : values.smoke ? SMOKE : QUICK;
  const names = values.contenders?.split(',').map((name) => name.trim()) ?? CONTENDERS.map((c) => c.name);
  for (const name of names) {
    if (!CONTENDERS.some((c) => c.name === name)) {
      throw new Error(`unknown contender "${name}" (known: ${CONTENDERS.map((c) => c.name).join(', ')})`);
    }
  }
  const phases = values.phases?.split(',').map((name) => name.trim()) ?? [...PHASES];
  for (const phase of phases) {
    if (!(PHASES as readonly string[]).includes(phase)) {
      throw new Error(`unknown phase "${phase}" (known: ${PHASES.join(', ')})`);
    }
  }
  const config: BenchConfig = {
    ...base,
    contenders: names,
    phases: PHASES.filter((phase) => phases.includes(phase)),
    outDir: values.out,
    json: values.json ?? false,
    soak: values.soak ?? false,
    cpuProfileDir: values['cpu-prof'] ? resolve(values.out ?? DEFAULT_OUT, 'profiles') : undefined,
  };
  if (values.payloads) {
    config.echoPayloads = values.payloads.split(',').map((text) => positiveInt('--payloads', text.trim()));
  }
  if (values['connect-clients']) config.connectClients = positiveInt('--connect-clients', values['connect-clients']);
  if (values['idle-clients']) config.idleClients = positiveInt('--idle-clients', values['idle-clients']);
  if (values['memory-rounds']) config.memoryRounds = positiveInt('--memory-rounds', values['memory-rounds']);
  if (values.rounds) config.rounds = positiveInt('--rounds', values.rounds);
  if (values['load-processes']) config.loadProcesses = positiveInt('--load-processes', values['load-processes']);
  if (values.clients) {
    const clients = positiveInt('--clients', values.clients);
    if (config.soak) config.soakClients = clients;
    else config.broadcastClients = clients;
  }
  if (values.duration) {
    const ms = parseDurationMs(values.duration);
    if (ms <= 0) throw new Error('--duration must be more than 0');
    if (config.soak) config.soakMs = ms;
    else config.echoMs = ms;
  }
  return config;
}
