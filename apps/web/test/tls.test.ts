/**
 * Real Chromium on each server app over wss:// (socket.io: https://, both engine transports).
 * The apps serve a leaf of a CA made for this run (@socketlab/conformance's test CA); Chromium
 * trusts that one leaf through `--ignore-certificate-errors-spki-list`, a pin on its public
 * key that Chromium honours only with its own --user-data-dir (playwright gives every launch
 * one): every other certificate is still checked, as the browser without the pin shows.
 */
import { existsSync } from 'node:fs';
import { testTls } from '@socketlab/conformance';
import { chromium, type JSHandle, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, ConnectionEnd } from '../src/connection.js';
import type { HarnessConnectSpec } from '../src/harness.js';
import { SOCKETIO_TRANSPORTS, type SocketIoTransport, TRANSPORTS, type TransportInfo } from '../src/transports.js';
import { appExists, chromiumPath, inCI, type Stack, startStack } from './support/stack.js';

interface Channel {
  name: string;
  transport: TransportInfo;
  mode?: SocketIoTransport;
}

const available = TRANSPORTS.filter(appExists);
const channels: Channel[] = available.flatMap((transport) =>
  transport.client === 'socketio'
    ? SOCKETIO_TRANSPORTS.map((mode) => ({ name: `${transport.name} (${mode})`, transport, mode }))
    : [{ name: transport.name, transport }],
);
const haveChromium = existsSync(chromiumPath);

if (!haveChromium && inCI) {
  describe('real browser over TLS', () => {
    it('has Chromium', () => {
      throw new Error(`no Chromium at ${chromiumPath}: with CI=true the browser tests fail instead of skipping`);
    });
  });
}

describe.skipIf(!haveChromium || channels.length === 0)('real browser over TLS', () => {
  const { leaf } = testTls();
  let stack: Stack;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack(available, {
      serverArgs: ['--tls-cert', leaf.certFile, '--tls-key', leaf.keyFile],
      chromiumArgs: [`--ignore-certificate-errors-spki-list=${leaf.spkiHash}`],
    });
    page = await stack.browser.newPage();
    await page.goto(stack.pageUrl('127.0.0.1'));
  }, 120_000);
  afterAll(async () => {
    await page?.close();
    await stack?.stop();
  });

  const serverUrl = (transport: TransportInfo): string => {
    const server = stack.servers.get(transport.key);
    if (!server) throw new Error(`${transport.app} did not start`);
    return server.url;
  };

  for (const channel of channels) {
    it(`${channel.name}: connects over ${channel.transport.client === 'socketio' ? 'https' : 'wss'}://, welcome first, echo`, async () => {
      const url = serverUrl(channel.transport);
      expect(url).toMatch(channel.transport.client === 'socketio' ? /^https:\/\// : /^wss:\/\//);
      const client = await open(page, {
        transport: channel.transport.key,
        url,
        ...(channel.mode ? { socketioTransport: channel.mode } : {}),
      });
      await client.evaluate((c) => c.opened);
      expect(await receive(client, 'welcome')).toEqual({ type: 'welcome', id: expect.any(String), members: [] });
      const payload = { over: 'tls', text: 'héllo ✓' };
      await client.evaluate((c, p) => c.send({ type: 'echo', payload: p }), payload);
      expect(await receive(client, 'echo')).toEqual({ type: 'echo', payload });
      await client.evaluate((c) => {
        c.close();
        return c.closed;
      });
    });
  }

  it('a browser without the pin refuses the certificate: checks are on, not off', async () => {
    const unpinned = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const other = await unpinned.newPage();
      await other.goto(stack.pageUrl('127.0.0.1'));
      for (const channel of channels) {
        const client = await open(other, {
          transport: channel.transport.key,
          url: serverUrl(channel.transport),
          ...(channel.mode ? { socketioTransport: channel.mode } : {}),
        });
        const end = await client.evaluate((c) => c.closed as Promise<ConnectionEnd>);
        expect(end.neverOpened, channel.name).toBe(true);
      }
    } finally {
      await unpinned.close();
    }
  }, 60_000);
});

function open(page: Page, spec: HarnessConnectSpec): Promise<JSHandle<Connection>> {
  return page.evaluateHandle((s) => window.socketlab.connect(s), spec);
}

function receive(client: JSHandle<Connection>, type?: string): Promise<unknown> {
  return client.evaluate((c, t) => window.socketlab.receive(c, t as never), type);
}
