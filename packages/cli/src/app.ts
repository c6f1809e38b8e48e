import type { Server as HttpServer } from 'node:http';
import { type Adapter, catalogEntry, type RealtimeServer } from '@socketlab/contract';
import type { ServerAppSpec } from './args.js';

/** A server app: an adapter and what the transport catalog says about its app. */
export interface ServerApp extends ServerAppSpec {
  adapter: Adapter;
  /**
   * Sessions span several HTTP requests (socket.io long-polling): with --workers the
   * primary routes every request of a session to the worker that holds it
   * (@socket.io/sticky), instead of the cluster's connection round-robin.
   */
  stickySessions: boolean;
}

/** The app of an adapter, from its catalog row (CONTRACT.md section 6) and its own defaults. */
export function serverApp(adapter: Adapter): ServerApp {
  const entry = catalogEntry(adapter.name);
  return {
    name: entry.app,
    defaultPort: entry.defaultPort,
    defaults: adapter.defaults,
    adapter,
    stickySessions: entry.stickySessions,
  };
}

/** What `@socket.io/sticky` needs from a socket.io server: its io instance's http server and engine. */
export interface StickyTarget {
  httpServer: HttpServer;
  engine: NodeJS.EventEmitter;
}

/** The started server of an app with sticky sessions, as @socket.io/sticky takes it. */
export function stickyTarget(app: ServerApp, server: RealtimeServer): StickyTarget {
  const target = server as Partial<StickyTarget>;
  if (!target.httpServer || !target.engine) {
    throw new Error(`${app.name}: sticky sessions need a server that exposes httpServer and engine`);
  }
  return target as StickyTarget;
}

/** The ready line every app prints on stdout; tools read the URL from it. */
export const READY_PATTERN = /^(\S+) \((\S+)\) listening on (\S+)$/;

export const readyLine = (app: ServerApp, url: string): string =>
  `${app.name} (${app.adapter.name}) listening on ${url}\n`;

/** With --metrics-port: printed on stdout just before the ready line. */
export const METRICS_PATTERN = /^(\S+) metrics on (\S+)$/;

export const metricsLine = (app: ServerApp, url: string): string => `${app.name} metrics on ${url}\n`;
