/**
 * Real Chromium negotiating permessage-deflate (RFC 7692) with every server app started with
 * `--per-message-deflate`: the browser offers it on every handshake; a server that can compress
 * accepts it (the page's WebSocket reports it in `extensions`) and every message works, a
 * server that cannot (its catalog row says so) answers uncompressed and works the same.
 */
import { existsSync } from 'node:fs';
import type { JSHandle, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../src/connection.js';
import type { HarnessConnectSpec } from '../src/harness.js';
import { TRANSPORTS } from '../src/transports.js';
import { appExists, chromiumPath, inCI, type Stack, startStack } from './support/stack.js';

const available = TRANSPORTS.filter(appExists);
const haveChromium = existsSync(chromiumPath);

if (!haveChromium && inCI) {
  describe('real browser, compression', () => {
    it('has Chromium', () => {
      throw new Error(`no Chromium at ${chromiumPath}: with CI=true the browser tests fail instead of skipping`);
    });
  });
}

describe.skipIf(!haveChromium || available.length === 0)(
  'real browser: servers started with --per-message-deflate',
  () => {
    let stack: Stack;
    let page: Page;

    beforeAll(async () => {
      stack = await startStack(available, { serverArgs: ['--per-message-deflate'] });
      page = await stack.browser.newPage();
      await page.goto(stack.pageUrl('127.0.0.1'));
    });
    afterAll(async () => {
      await page?.close();
      await stack?.stop();
    });

    const open = (spec: HarnessConnectSpec): Promise<JSHandle<Connection>> =>
      page.evaluateHandle((s) => window.socketlab.connect(s), spec);

    for (const transport of available) {
      const verdict = transport.compression ? 'negotiates permessage-deflate' : 'answers uncompressed';
      it(`${transport.name}: Chromium offers compression; the server ${verdict}; messages work`, async () => {
        const client = await open({ transport: transport.key, socketioTransport: 'websocket' });
        const extensions = await client.evaluate(async (c) => {
          await c.opened;
          return c.extensions;
        });
        if (transport.compression) expect(extensions).toMatch(/^permessage-deflate/);
        else expect(extensions).toBe('');
        expect(await client.evaluate((c) => window.socketlab.receive(c, 'welcome'))).toMatchObject({ type: 'welcome' });
        // Big and compressible (over the 1 KiB threshold), then small, then unicode.
        const payloads = [
          { history: Array.from({ length: 400 }, (_, i) => ({ user: `user-${i % 5}`, text: `line ${i} ✓` })) },
          'small',
          { text: 'héllo 日本語 🚀' },
        ];
        for (const payload of payloads) {
          await client.evaluate((c, p) => c.send({ type: 'echo', payload: p }), payload);
          expect(await client.evaluate((c) => window.socketlab.receive(c, 'echo'))).toEqual({ type: 'echo', payload });
        }
        const roundTrip = await client.evaluate((c) => window.socketlab.binaryRoundTrip(c, 200_000));

        expect(roundTrip).toMatchObject({ sent: 200_000, received: 200_000, identical: true });
        await client.evaluate((c) => {
          c.close();
          return c.closed;
        });
      });
    }
  },
);
