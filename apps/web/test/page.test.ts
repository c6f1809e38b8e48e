/**
 * The playground page as a person sees it, in real Chromium: the chat log scrolls inside its
 * box and the composer stays on screen, a 390 px window gets no horizontal scroll, a server
 * that never answers the upgrade ends in the connect timeout's message, and a refusal the page
 * can explain says what to do, in the error colour. Screenshots go to test-artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECT_TIMEOUT_MS } from '../src/connection.js';
import { transportInfo } from '../src/transports.js';
import { appExists, artifactsDir, chromiumPath, inCI, type Stack, startStack } from './support/stack.js';

const ws = transportInfo('ws')!;
const websocket = transportInfo('websocket')!;
const needed = [ws, websocket];
const haveApps = needed.every(appExists);
const haveChromium = existsSync(chromiumPath);
/** The page's error colour (--bad in style.css). */
const ERROR_COLOUR = 'rgb(192, 57, 43)';

if (inCI && (!haveChromium || !haveApps)) {
  describe('the playground page', () => {
    it('has Chromium and the ws and websocket server apps', () => {
      throw new Error(
        `with CI=true these tests fail instead of skipping: Chromium at ${chromiumPath}: ${haveChromium}; apps/ws-server and apps/websocket-server: ${haveApps}`,
      );
    });
  });
}

describe.skipIf(!haveChromium || !haveApps)(
  haveChromium ? 'the playground page' : `the playground page (skipped: no Chromium at ${chromiumPath})`,
  () => {
    let stack: Stack;

    beforeAll(async () => {
      mkdirSync(artifactsDir, { recursive: true });
      stack = await startStack(needed);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    async function pageOf(width: number, height: number): Promise<{ page: Page; close(): Promise<void> }> {
      const context = await stack.browser.newContext({ viewport: { width, height } });
      context.setDefaultTimeout(10_000);
      const page = await context.newPage();
      await page.goto(stack.pageUrl('127.0.0.1', { transport: 'ws' }));
      return { page, close: () => context.close() };
    }

    /** Sends `count` chat lines through the composer and waits until the last one is back. */
    async function chat(page: Page, count: number, text: (i: number) => string): Promise<void> {
      for (let i = 0; i < count; i++) {
        await page.fill('#message', text(i));
        await page.press('#message', 'Enter');
      }
      await page.locator('#log li[data-kind="broadcast"]', { hasText: `${text(count - 1)} (delivered to ` }).waitFor();
    }

    async function connectWs(page: Page): Promise<void> {
      await page.click('#connect');
      await page.locator('#status[data-state="open"]').waitFor();
      await page.locator('#presence li.self').waitFor();
    }

    it('after 60 messages the log scrolls inside its box and the message input is still on screen', async () => {
      const { page, close } = await pageOf(1200, 820);
      try {
        await connectWs(page);
        const chatHeight = (): Promise<number> =>
          page.evaluate(() => document.getElementById('chat-panel')!.getBoundingClientRect().height);
        const chatHeightBefore = await chatHeight();
        await chat(page, 60, (i) => `message number ${i + 1} of sixty`);

        const seen = await page.evaluate(() => {
          const log = document.getElementById('log')!;
          const input = document.getElementById('message')!.getBoundingClientRect();
          const last = log.lastElementChild!.getBoundingClientRect();
          const box = log.getBoundingClientRect();
          return {
            logScrollHeight: log.scrollHeight,
            logClientHeight: log.clientHeight,
            pageScrollY: window.scrollY,
            viewportHeight: window.innerHeight,
            inputTop: input.top,
            inputBottom: input.bottom,
            // The newest line is followed: inside the log's visible box.
            lastLineVisible: last.bottom <= box.bottom + 1 && last.top >= box.top - 1,
          };
        });
        expect(seen.logScrollHeight).toBeGreaterThan(seen.logClientHeight);
        expect(await chatHeight(), 'the chat box does not grow with the log').toBe(chatHeightBefore);
        expect(seen.pageScrollY, 'adding lines does not scroll the page').toBe(0);
        expect(seen.inputTop).toBeGreaterThanOrEqual(0);
        expect(seen.inputBottom).toBeLessThanOrEqual(seen.viewportHeight);
        expect(seen.lastLineVisible).toBe(true);
        expect(await page.locator('#message').isEditable()).toBe(true);
        await page.screenshot({ path: join(artifactsDir, 'chat-60-messages.png') });
      } finally {
        await close();
      }
    });

    it('fits a 390 px wide window: no horizontal scroll before connecting, connected, or after a long chat', async () => {
      const { page, close } = await pageOf(390, 844);
      const pageWidth = (): Promise<number> => page.evaluate(() => document.documentElement.scrollWidth);
      try {
        expect(await page.textContent('#status')).toBe('not connected');
        expect(await pageWidth()).toBeLessThanOrEqual(390);
        // Every transport's controls (socket.io adds its engine select, websocket the subprotocol box).
        for (const key of ['net', 'websocket', 'socketio', 'ws']) {
          await page.check(`input[name="transport"][value="${key}"]`);
          expect(await pageWidth(), `with ${key} picked`).toBeLessThanOrEqual(390);
        }
        await connectWs(page);
        // A word with no break point, a long URL-like line: wrapped, not widening the page.
        await chat(page, 45, (i) => (i === 0 ? `ws://127.0.0.1:41234/${'x'.repeat(120)}` : `narrow line ${i}`));
        expect(await pageWidth()).toBeLessThanOrEqual(390);
        const log = await page.evaluate(() => {
          const element = document.getElementById('log')!;
          const last = element.lastElementChild!.getBoundingClientRect();
          const box = element.getBoundingClientRect();
          return {
            scrollHeight: element.scrollHeight,
            clientHeight: element.clientHeight,
            // Here "(delivered to 1)" wraps onto a line of its own after the line was added: still followed.
            lastLineVisible: last.bottom <= box.bottom + 1 && last.top >= box.top - 1,
          };
        });
        expect(log.scrollHeight).toBeGreaterThan(log.clientHeight);
        expect(log.lastLineVisible, 'the newest line is in view').toBe(true);
        await page.screenshot({ path: join(artifactsDir, 'narrow-390.png'), fullPage: true });
      } finally {
        await close();
      }
    });

    describe('a server that accepts the connection and never answers', () => {
      let silent: Server;
      const sockets = new Set<Socket>();
      let silentPort: number;
      let acceptedTotal = 0;

      beforeAll(async () => {
        silent = createServer((socket) => {
          acceptedTotal++;
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        });
        await new Promise<void>((resolve, reject) => {
          silent.once('error', reject);
          silent.listen(0, '127.0.0.1', resolve);
        });
        silentPort = (silent.address() as AddressInfo).port;
      });
      afterAll(async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent?.close(() => resolve()));
      });

      it(`ends in the connect timeout's message (${CONNECT_TIMEOUT_MS / 1000} s), over the browser's WebSocket and over socket.io`, async () => {
        const cases = [
          { key: 'ws', url: `ws://127.0.0.1:${silentPort}/`, name: 'ws' },
          { key: 'socketio', url: `http://127.0.0.1:${silentPort}/`, name: 'socket.io' },
        ];
        const pages = await Promise.all(cases.map(() => pageOf(1200, 820)));
        try {
          const acceptedBefore = acceptedTotal;
          await Promise.all(
            cases.map(async ({ key, url, name }, i) => {
              const { page } = pages[i]!;
              await page.check(`input[name="transport"][value="${key}"]`);
              await page.fill('#server-url', url);
              const started = Date.now();
              await page.click('#connect');
              await page.locator('#status[data-state="connecting"]').waitFor();
              const expected = `timed out: no answer within ${CONNECT_TIMEOUT_MS / 1000} s from ${url}, the page gave up connecting. Check the address and port: is a ${name} server running there?`;
              await page
                .locator('#close-info', { hasText: expected })
                .waitFor({ timeout: CONNECT_TIMEOUT_MS + 5_000 })
                .catch(async (error: Error) => {
                  throw new Error(
                    `${name}: the page shows "${await page.textContent('#close-info')}"; ${error.message}`,
                  );
                });
              // Not a refusal: the page waited out its timeout.
              expect(Date.now() - started).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 500);
              expect(await page.getAttribute('#status', 'data-state')).toBe('closed');
              expect(await page.getAttribute('#close-info', 'data-error')).toBe('true');
              expect(await page.$eval('#close-info', (element) => getComputedStyle(element).color)).toBe(ERROR_COLOUR);
              await page.locator('#log li[data-kind="error"]', { hasText: expected }).waitFor();
              await page.screenshot({ path: join(artifactsDir, `connect-timeout-${key}.png`) });
            }),
          );
          // The silent server did take both connections: the pages timed out on unanswered upgrades.
          expect(acceptedTotal - acceptedBefore).toBeGreaterThanOrEqual(cases.length);
        } finally {
          await Promise.all(pages.map(({ close }) => close()));
        }
      }, 60_000);

      it('Disconnect while still connecting cancels the attempt: said so, not as a refusal', async () => {
        const { page, close } = await pageOf(1200, 820);
        try {
          await page.fill('#server-url', `ws://127.0.0.1:${silentPort}/`);
          await page.click('#connect');
          await page.locator('#status[data-state="connecting"]').waitFor();
          await page.click('#disconnect');
          await page.locator('#close-info', { hasText: 'cancelled before it opened' }).waitFor();
          expect(await page.getAttribute('#close-info', 'data-error')).toBe('false');
          expect(await page.getAttribute('#status', 'data-state')).toBe('closed');
        } finally {
          await close();
        }
      });
    });

    it('echo-protocol unticked on the websocket server: says it requires the subprotocol and to tick the box, in red', async () => {
      const { page, close } = await pageOf(1200, 820);
      try {
        await page.check('input[name="transport"][value="websocket"]');
        expect(await page.isVisible('#protocol-required')).toBe(true);
        await page.uncheck('#offer-protocol');
        await page.click('#connect');
        const expected =
          'refused: the websocket server requires the echo-protocol subprotocol (its default) and the page offered none. Tick "offer echo-protocol" and connect again';
        await page.locator('#close-info', { hasText: expected }).waitFor();
        expect(await page.textContent('#close-info')).not.toContain('1006');
        expect(await page.$eval('#close-info', (element) => getComputedStyle(element).color)).toBe(ERROR_COLOUR);
        const logLine = page.locator('#log li[data-kind="error"]', { hasText: expected });
        await logLine.waitFor();
        expect(await logLine.evaluate((element) => getComputedStyle(element).color)).toBe(ERROR_COLOUR);
        expect(await page.getAttribute('#status', 'data-state')).toBe('closed');
        await page.screenshot({ path: join(artifactsDir, 'refused-no-subprotocol.png') });

        // Doing what it says works.
        await page.check('#offer-protocol');
        await connectWs(page);
        const status = await page.textContent('#status');
        expect(status).toContain('subprotocol echo-protocol');
        expect(status).toContain('extensions (none)');
        expect(await page.textContent('#close-info')).toBe('');
      } finally {
        await close();
      }
    });
  },
);
