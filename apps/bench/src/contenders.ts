import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
}

/**
 * Every contender is one row here. A contender whose app is not in the tree is reported as
 * "not available", never skipped silently and never faked.
 */
export const CONTENDERS: readonly Contender[] = [
  {
    name: 'floor',
    description: 'raw-TCP floor: the same Room, one JSON message per line on node:net (apps/bench/floor)',
    appDir: join(benchDir, 'floor'),
    client: 'tcp',
  },
  {
    name: 'net',
    description: 'RFC 6455 by hand on node:net (apps/net-server)',
    appDir: join(appsDir, 'net-server'),
    client: 'websocket',
  },
  {
    name: 'ws',
    description: 'the ws library (apps/ws-server)',
    appDir: join(appsDir, 'ws-server'),
    client: 'websocket',
  },
  {
    name: 'websocket',
    description: 'WebSocket-Node (apps/websocket-server)',
    appDir: join(appsDir, 'websocket-server'),
    client: 'websocket',
  },
  {
    name: 'socket.io-ws',
    description: 'socket.io, websocket transport only (apps/socketio-server)',
    appDir: join(appsDir, 'socketio-server'),
    client: 'socketio-websocket',
  },
  {
    name: 'socket.io-polling',
    description: 'socket.io, HTTP long-polling transport only (apps/socketio-server)',
    appDir: join(appsDir, 'socketio-server'),
    client: 'socketio-polling',
  },
];

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
