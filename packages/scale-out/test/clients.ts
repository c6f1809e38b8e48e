import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Adapter, CATALOG } from '@socketlab/contract';
import { adapter as socketioAdapter } from '@socketlab/socketio';
import { adapter as wsAdapter } from '@socketlab/ws';

export const appsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../apps');

/** The server apps of the transport catalog, each started as its own process. */
export const APPS: readonly string[] = CATALOG.map((entry) => entry.app);

/** Which client speaks to an app: every WebSocket app speaks RFC 6455, so one client fits them all. */
export function clientFor(app: string): Adapter {
  const entry = CATALOG.find((candidate) => candidate.app === app);
  if (!entry) throw new Error(`${app} is not a server app of the transport catalog`);
  return entry.client === 'socketio' ? socketioAdapter : wsAdapter;
}
