/**
 * Real Chromium on each server app over wss:// (socket.io: https://, both engine transports).
 * The apps serve a leaf of a CA made for this run (@socketlab/conformance's test CA). Chromium
 * trusts that CA the way a user's browser would: it is a root in the profile's own NSS database
 * (`$HOME/.pki/nssdb`, HOME a temp dir per browser), with every certificate check on. A browser
 * whose profile's database lacks the CA is refused by every server.
 */
import { existsSync } from 'node:fs';
import { testTls } from '@socketlab/conformance';
import { chromium, type JSHandle, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, ConnectionEnd } from '../src/connection.js';
import type { HarnessConnectSpec } from '../src/harness.js';
import { SOCKETIO_TRANSPORTS, type SocketIoTransport, TRANSPORTS, type TransportInfo } from '../src/transports.js';
import { certutilPath, createNssHome, haveCertutil, type NssHome } from './support/nss.js';
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
const certutilFound = haveCertutil();

if (inCI && (!haveChromium || !certutilFound)) {
  describe('real browser over TLS', () => {
    if (!haveChromium) {
      it('has Chromium', () => {
        throw new Error(`no Chromium at ${chromiumPath}: with CI=true the browser tests fail instead of skipping`);
      });
    }
    if (!certutilFound) {
      it('has certutil', () => {
        throw new Error(
          `no ${certutilPath} (NSS tools, Debian package libnss3-tools): the TLS browser test adds the test CA to the profile's NSS database with it; with CI=true it fails instead of skipping`,
        );
      });
    }
  });
}

describe.skipIf(!haveChromium || !certutilFound || channels.length === 0)('real browser over TLS', () => {
  const { ca, leaf } = testTls();
  let trusting: NssHome;
  let stack: Stack;
  let page: Page;

  beforeAll(async () => {
    trusting = createNssHome(ca.certFile);
    stack = await startStack(available, {
      serverArgs: ['--tls-cert', leaf.certFile, '--tls-key', leaf.keyFile],
      chromiumEnv: { ...process.env, HOME: trusting.home },
    });
    page = await stack.browser.newPage();
    await page.goto(stack.pageUrl('127.0.0.1'));
  }, 120_000);
  afterAll(async () => {
    await page?.close();
    await stack?.stop();
    trusting?.remove();
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

  it('a browser whose profile lacks the CA refuses the certificate: checks are on, not off', async () => {
    // The same kind of profile, an NSS database of its own, only without the test CA.
    const untrusting = createNssHome();
    const untrusted = await chromium.launch({
      executablePath: chromiumPath,
      env: { ...process.env, HOME: untrusting.home },
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const other = await untrusted.newPage();
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
      await untrusted.close();
      untrusting.remove();
    }
  }, 60_000);
});

function open(page: Page, spec: HarnessConnectSpec): Promise<JSHandle<Connection>> {
  return page.evaluateHandle((s) => window.socketlab.connect(s), spec);
}

function receive(client: JSHandle<Connection>, type?: string): Promise<unknown> {
  return client.evaluate((c, t) => window.socketlab.receive(c, t as never), type);
}
