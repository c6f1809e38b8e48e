/**
 * What the browser tests run against: the page built once by Vite and served from a
 * loopback port, every server app started as a real process on port 0, and Debian's
 * Chromium (never a downloaded browser) through playwright-core.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerProcess, startServerProcess } from '@socketlab/cli/process';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';
import type { SocketIoTransport, TransportInfo } from '../../src/transports.js';
import { serveDirectory } from './static-server.js';

export const appDir = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const appsDir = dirname(appDir);
export const artifactsDir = join(appDir, 'test-artifacts');

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** With CI=true a missing browser or server app fails the run instead of skipping. */
export const inCI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * A host name that is not on the servers' allowlist but resolves to loopback inside the
 * browser (`--host-resolver-rules`): the same page served under it has a foreign origin.
 */
export const FOREIGN_HOST = 'foreign.test';

export function appExists(transport: TransportInfo): boolean {
  return existsSync(join(appsDir, transport.app, 'src', 'main.ts'));
}

export interface Stack {
  browser: Browser;
  servers: Map<TransportInfo['key'], ServerProcess>;
  pagePort: number;
  /** The page under `host` (127.0.0.1 or FOREIGN_HOST), every started server in the query. */
  pageUrl(host: string, extra?: Record<string, string>): string;
  stop(): Promise<void>;
}

/** What a stack adds to the defaults: the TLS test passes its flags and the browser's HOME (its NSS trust store). */
export interface StackOptions {
  serverArgs?: readonly string[];
  chromiumArgs?: readonly string[];
  /** Chromium's environment (default: this process's). */
  chromiumEnv?: NodeJS.ProcessEnv;
}

export async function startStack(transports: readonly TransportInfo[], options: StackOptions = {}): Promise<Stack> {
  const outDir = mkdtempSync(join(tmpdir(), 'socketlab-web-'));
  const cleanups: (() => Promise<unknown>)[] = [async () => rmSync(outDir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
  };
  // Servers, browser and build start together; each registers its cleanup once it exists.
  const starting = transports.map(async (transport) => {
    // --verbose: the refusal of a foreign origin shows in the server's own log too.
    const server = await startServerProcess(join(appsDir, transport.app), [
      '--port',
      '0',
      '--verbose',
      ...(options.serverArgs ?? []),
    ]);
    cleanups.push(() => server.stop('SIGTERM'));
    return [transport.key, server] as const;
  });
  const launching = chromium
    .launch({
      executablePath: chromiumPath,
      ...(options.chromiumEnv ? { env: options.chromiumEnv } : {}),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        `--host-resolver-rules=MAP ${FOREIGN_HOST} 127.0.0.1`,
        ...(options.chromiumArgs ?? []),
      ],
    })
    .then((browser) => {
      cleanups.push(() => browser.close());
      return browser;
    });
  try {
    await build({
      root: appDir,
      configFile: join(appDir, 'vite.config.ts'),
      mode: 'production',
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    });
    const pageServer = await serveDirectory(outDir);
    cleanups.push(() => pageServer.close());
    const servers = new Map(await Promise.all(starting));
    const browser = await launching;
    return {
      browser,
      servers,
      pagePort: pageServer.port,
      pageUrl(host, extra = {}) {
        const query = new URLSearchParams(extra);
        for (const [key, server] of servers) query.set(key, server.url);
        return `http://${host}:${pageServer.port}/?${query}`;
      },
      stop,
    };
  } catch (error) {
    await Promise.allSettled([launching, ...starting]);
    await stop();
    throw error;
  }
}

/**
 * The server's answer to a handshake carrying this Origin, asked from Node: the browser
 * only reports a failed connection, this shows the status the server refused it with.
 */
export function handshakeStatus(
  transport: TransportInfo,
  serverUrl: string,
  origin: string,
  socketioTransport: SocketIoTransport = 'websocket',
): Promise<number> {
  const url = new URL(serverUrl);
  const socketio = transport.client === 'socketio';
  const polling = socketio && socketioTransport === 'polling';
  const upgrade = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...(socketio ? {} : { 'Sec-WebSocket-Protocol': 'echo-protocol' }),
  };
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      // socket.io's first request: an upgrade, or the long-polling handshake GET.
      path: socketio ? `/socket.io/?EIO=4&transport=${socketioTransport}` : '/',
      headers: { Origin: origin, ...(polling ? {} : upgrade) },
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer to the handshake within 5 s from ${serverUrl}`)));
    req.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 101);
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
