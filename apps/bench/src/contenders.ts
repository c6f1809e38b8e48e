import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOG, type TransportEntry } from '@socketlab/contract';
import type { ClientKind } from './load/clients.js';

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const appsDir = resolve(benchDir, '..');

export interface Contender {
  /** Short name used in the table, the JSON and `--contenders`. */
  name: string;
  /** What it is, for the table's legend. */
  description: string;
  /** The server app directory (has src/main.ts); started as its own process. */
  appDir: string;
  /** The client the load generator uses against it. */
  client: ClientKind;
  /** Flags beyond SERVER_FLAGS (`--per-message-deflate`). */
  serverFlags?: readonly string[];
}

/**
 * The raw-TCP floor, then every transport of the catalog (`@socketlab/contract`'s
 * catalog.ts): a WebSocket transport is one contender, socket.io one per engine transport.
 * A contender whose app is not in the tree is reported as "not available", never skipped
 * silently and never faked.
 */
export const CONTENDERS: readonly Contender[] = [
  {
    name: 'floor',
    description: 'raw-TCP floor: the same Room, one JSON message per line on node:net (apps/bench/floor)',
    appDir: join(benchDir, 'floor'),
    client: 'tcp',
  },
  ...CATALOG.flatMap(contendersOf),
  ...CATALOG.filter((entry) => entry.compression).map(deflateContenderOf),
];

function contendersOf(entry: TransportEntry): Contender[] {
  const appDir = join(appsDir, entry.app);
  if (entry.client === 'websocket') {
    return [{ name: entry.key, description: `${entry.description} (apps/${entry.app})`, appDir, client: 'websocket' }];
  }
  return (['websocket', 'polling'] as const).map((transport) => ({
    name: `${entry.name}-${transport === 'websocket' ? 'ws' : transport}`,
    description: `${entry.description}, ${transport === 'websocket' ? 'websocket' : 'HTTP long-polling'} transport only (apps/${entry.app})`,
    appDir,
    client: `socketio-${transport}` as const,
  }));
}

/**
 * The same server started with `--per-message-deflate` and load clients that offer it (and
 * compress every message they send): RFC 7692 on the WebSocket wire. socket.io over its
 * websocket transport only; its polling compression (gzip of HTTP bodies) is not measured.
 */
function deflateContenderOf(entry: TransportEntry): Contender {
  const appDir = join(appsDir, entry.app);
  const websocket = entry.client === 'websocket';
  return {
    name: websocket ? `${entry.key}+deflate` : `${entry.name}-ws+deflate`,
    description: `${entry.description} with permessage-deflate (--per-message-deflate; apps/${entry.app})`,
    appDir,
    client: websocket ? 'websocket-deflate' : 'socketio-websocket-deflate',
    serverFlags: ['--per-message-deflate'],
  };
}

/** The contender every ratio is given against. */
export const BASELINE = 'ws';

export function isAvailable(contender: Contender): boolean {
  return existsSync(join(contender.appDir, 'src', 'main.ts'));
}

/**
 * The flags every server is started with, so that the benchmark measures the transports
 * and not their safety limits: a free port; heartbeats far apart (no pings inside a
 * window); a long handshake timeout (thousands of handshakes queue up at once); an
 * outbound limit large enough that a 1,000-client burst or the join storm of 10,000
 * connections never drops a client that is merely behind; every Origin allowed.
 */
export const SERVER_FLAGS = [
  '--port',
  '0',
  '--heartbeat',
  '10m',
  '--handshake-timeout',
  '120s',
  '--outbound-limit',
  '64MiB',
  '--origin',
  '*',
];
