/**
 * The contract from a real browser: Chromium loads the built playground page, and the
 * page's own connection code (the browser's WebSocket with binaryType arraybuffer, or
 * socket.io-client) talks to every server app started as a real process on port 0.
 * Contract checks run in the page through `window.socketlab`; the chat checks drive
 * the UI of two pages. Screenshots go to test-artifacts/.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JSHandle, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, ConnectionEnd } from '../src/connection.js';
import type { BinaryRoundTrip, HarnessConnectSpec } from '../src/harness.js';
import { SOCKETIO_TRANSPORTS, type SocketIoTransport, TRANSPORTS, type TransportInfo } from '../src/transports.js';
import {
  appExists,
  appsDir,
  artifactsDir,
  chromiumPath,
  FOREIGN_HOST,
  handshakeStatus,
  inCI,
  type Stack,
  startStack,
} from './support/stack.js';

/** One way of reaching a server: each WebSocket transport, socket.io over each engine transport. */
interface Channel {
  name: string;
  transport: TransportInfo;
  mode?: SocketIoTransport;
}

const available = TRANSPORTS.filter(appExists);
const missing = TRANSPORTS.filter((transport) => !appExists(transport));
const channels: Channel[] = available.flatMap((transport) =>
  transport.client === 'socketio'
    ? SOCKETIO_TRANSPORTS.map((mode) => ({ name: `${transport.name} (${mode})`, transport, mode }))
    : [{ name: transport.name, transport }],
);
const haveChromium = existsSync(chromiumPath);

describe('the browser tests cover every server app', () => {
  it('has a transport for every apps/*-server', () => {
    const apps = readdirSync(appsDir).filter((name) => name.endsWith('-server'));
    expect(apps.filter((app) => !TRANSPORTS.some((transport) => transport.app === app))).toEqual([]);
  });
  for (const transport of missing) {
    // Without CI a branch may lack an app; with CI every transport must be tested.
    const name = `has apps/${transport.app}${inCI ? '' : ' (skipped outside CI: not in this checkout)'}`;
    it.skipIf(!inCI)(name, () => {
      throw new Error(`apps/${transport.app} is missing: the ${transport.name} transport is untested`);
    });
  }
});

if (!haveChromium && inCI) {
  describe('real browser', () => {
    it('has Chromium', () => {
      throw new Error(
        `no Chromium at ${chromiumPath}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH; with CI=true the browser tests fail instead of skipping`,
      );
    });
  });
}

describe.skipIf(!haveChromium || channels.length === 0)(
  haveChromium ? 'real browser' : `real browser (skipped: no Chromium at ${chromiumPath}; set CHROMIUM_PATH)`,
  () => {
    let stack: Stack;

    beforeAll(async () => {
      mkdirSync(artifactsDir, { recursive: true });
      stack = await startStack(available);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    for (const channel of channels)
      describe(`${channel.name}: the contract from the page`, () => {
        let page: Page;
        const connect = (spec: Partial<HarnessConnectSpec> = {}): Promise<JSHandle<Connection>> =>
          open(page, { transport: channel.transport.key, ...modeOf(channel), ...spec });

        beforeAll(async () => {
          page = await stack.browser.newPage();
          await page.goto(stack.pageUrl('127.0.0.1'));
        });
        afterAll(async () => {
          await page?.close();
        });

        it(`connects, ${channel.mode ? `over ${channel.mode}` : 'offering echo-protocol'}, and the welcome comes first`, async () => {
          const client = await connect();
          const { protocol } = await opened(client);
          expect(protocol).toBe(channel.mode ?? 'echo-protocol');
          const welcome = await receive(client);
          // members: the roster (CONTRACT.md section 1), possibly empty.
          expect(welcome).toEqual({ type: 'welcome', id: expect.any(String), members: expect.any(Array) });
          await closeAndWait(client);
        });

        it('echoes any JSON payload deep-equal; a malformed request gets bad_request and the connection stays open', async () => {
          const client = await connect();
          await receive(client, 'welcome');
          const payload = { text: 'héllo ✓ 😀', list: [1, 2.5, null, true, 'x'], nested: { deep: { deeper: [] } } };
          await client.evaluate((c, p) => c.send({ type: 'echo', payload: p }), payload);
          expect(await receive(client)).toEqual({ type: 'echo', payload });

          if (channel.transport.client === 'socketio') await client.evaluate((c) => c.emit('shout', { payload: 1 }));
          else await client.evaluate((c) => c.sendText('this is not JSON'));
          expect(await receive(client)).toEqual({ type: 'error', code: 'bad_request', message: expect.any(String) });

          await client.evaluate((c) => c.send({ type: 'echo', payload: 'still open' }));
          expect(await receive(client)).toEqual({ type: 'echo', payload: 'still open' });
          await closeAndWait(client);
        });

        it('sends bytes and gets exactly those bytes back', async () => {
          const client = await connect();
          await receive(client, 'welcome');
          for (const size of [1, 65_543, 300_000]) {
            const roundTrip = await client.evaluate((c, n) => window.socketlab.binaryRoundTrip(c, n), size);
            expect(roundTrip).toEqual<BinaryRoundTrip>({
              sent: size,
              received: size,
              identical: true,
              // socket.io carries binary inside the echo payload; WebSocket transports as a binary message.
              as: channel.transport.client === 'socketio' ? 'echo' : 'binary',
            });
          }
          await closeAndWait(client);
        });

        it("broadcasts to everyone, the sender's copy before its broadcastResult; joins and leaves are announced", async () => {
          const a = await connect();
          const { id: idA } = (await receive(a, 'welcome')) as { id: string };
          const b = await connect();
          const { id: idB } = (await receive(b, 'welcome')) as { id: string };
          const ours = new Set([idA, idB]);
          expect(await nextAbout(a, ours)).toEqual({ type: 'join', id: idB });

          const payload = { text: `hello over ${channel.name}`, n: 42 };
          await a.evaluate((c, p) => c.send({ type: 'broadcast', payload: p }), payload);
          expect(await nextAbout(b, ours)).toEqual({ type: 'broadcast', from: idA, payload });
          expect(await nextAbout(a, ours)).toEqual({ type: 'broadcast', from: idA, payload });
          const result = (await nextAbout(a, ours)) as { type: string; recipients: number };
          expect(result).toEqual({ type: 'broadcastResult', payload, recipients: expect.any(Number) });
          expect(result.recipients).toBeGreaterThanOrEqual(2);

          const endB = await closeAndWait(b);
          if (channel.transport.client === 'socketio') expect(endB).toMatchObject({ code: null, clean: true });
          else expect(endB).toMatchObject({ code: 1000, clean: true });
          expect(await nextAbout(a, ours)).toEqual({ type: 'leave', id: idB });
          await closeAndWait(a);
        });

        if (channel.transport.client === 'websocket') {
          const verdict = channel.transport.requiresProtocol
            ? 'is refused (this server requires echo-protocol)'
            : 'is accepted';
          it(`a plain new WebSocket(url), offering no subprotocol, ${verdict}`, async () => {
            const client = await connect({ protocols: [] });
            if (channel.transport.requiresProtocol) {
              expect(await closedEnd(client)).toMatchObject({ neverOpened: true, code: 1006 });
              return;
            }
            expect(await opened(client)).toEqual({ protocol: '' });
            expect(await receive(client)).toEqual({
              type: 'welcome',
              id: expect.any(String),
              members: expect.any(Array),
            });
            await closeAndWait(client);
          });
        }

        it('a message over the 1 MiB limit ends only that connection; the others go on', async () => {
          const big = await connect();
          await receive(big, 'welcome');
          const other = await connect();
          await receive(other, 'welcome');
          await big.evaluate((c) => c.sendBinary(new Uint8Array(1024 * 1024 + 1)));
          const end = await closedEnd(big);
          expect(end.neverOpened).toBe(false);
          // WebSocket transports close with 1009; socket.io can only disconnect.
          expect(end.code).toBe(channel.transport.client === 'socketio' ? null : 1009);
          await other.evaluate((c) => c.send({ type: 'echo', payload: 'still here' }));
          expect(await receive(other, 'echo')).toEqual({ type: 'echo', payload: 'still here' });
          await closeAndWait(other);
        });

        it('refuses a page from a foreign origin (403)', async () => {
          const server = stack.servers.get(channel.transport.key)!;
          const foreign = await stack.browser.newPage();
          const consoleLines: string[] = [];
          foreign.on('console', (message) => consoleLines.push(message.text()));
          try {
            await foreign.goto(stack.pageUrl(FOREIGN_HOST));
            const origin = await foreign.evaluate(() => location.origin);
            expect(origin).toBe(`http://${FOREIGN_HOST}:${stack.pagePort}`);

            // The server runs with --verbose: each refusal is one debug line ("... refused").
            const refusals = (): number =>
              server
                .stderr()
                .split('\n')
                .filter((line) => /"msg":"[^"]*refused/.test(line)).length;
            const refusalsBefore = refusals();
            const client = await open(foreign, { transport: channel.transport.key, ...modeOf(channel) });
            const end = await closedEnd(client);
            await expect
              .poll(refusals, { timeout: 5_000, message: "the server's log records refusing the page" })
              .toBeGreaterThan(refusalsBefore);
            expect(end.neverOpened).toBe(true);
            if (channel.transport.client === 'websocket') {
              // All a page ever learns of a refused handshake: 1006, no reason.
              expect(end).toMatchObject({ code: 1006, reason: '' });
            }
            if (channel.mode === 'polling') {
              // A refused cross-origin XHR carries no CORS grant: the page may not even read its status.
              await expect
                .poll(() => consoleLines.join('\n'), { timeout: 5_000, message: 'the browser reports a CORS refusal' })
                .toContain("No 'Access-Control-Allow-Origin' header");
            } else {
              // The browser's own report names the status the server answered the upgrade with.
              await expect
                .poll(() => consoleLines.join('\n'), { timeout: 5_000, message: 'the browser reports a 403' })
                .toMatch(/Unexpected response code: 403\b/);
            }
            // And the server, asked the same way from outside the browser, says 403.
            expect(await handshakeStatus(channel.transport, server.url, origin, channel.mode)).toBe(403);
          } finally {
            await foreign.close();
          }
        });
      });

    describe('the root pnpm start', () => {
      it('prints the page URL first, then every server; the page reaches each of them; Ctrl-C stops all', async () => {
        const startAll = join(appsDir, '..', 'packages', 'cli', 'src', 'start-all.ts');
        // Port 0 everywhere: the servers get --port 0 (start-all forwards its flags), the page its own variable.
        const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', startAll, '--port', '0'], {
          env: { ...process.env, SOCKETLAB_PAGE_PORT: '0' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        try {
          const serverApps = readdirSync(appsDir).filter((name) => name.endsWith('-server'));
          const lines = await readLines(child.stdout, 2 + serverApps.length, 60_000, () => stderr);
          const pageUrl = /^socketlab playground: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(lines[0] ?? '')?.[1];
          expect(pageUrl, `first line: ${lines[0]}`).toBeDefined();
          expect(lines[1]).toMatch(/^socketlab servers/);
          const urls = new Map(
            lines.slice(2).map((line) => {
              const [name = '', url = ''] = line.trim().split(/\s+/);
              return [name, url] as const;
            }),
          );
          expect([...urls.keys()].sort()).toEqual(serverApps.sort());

          const page = await stack.browser.newPage();
          page.setDefaultTimeout(15_000);
          try {
            await page.goto(pageUrl!);
            for (const channel of channels) {
              const serverUrl = urls.get(channel.transport.app);
              await page.check(`input[name="transport"][value="${channel.transport.key}"]`);
              // No query string: the URL comes from what start-all told the page.
              expect(await page.inputValue('#server-url')).toBe(serverUrl);
              await connectThroughUi(page, channel);
            }
          } finally {
            await page.close();
          }
        } finally {
          child.kill('SIGINT');
        }
        // Graceful shutdown is bounded (each server's shutdown timeout): past that, it hangs.
        const giveUp = new AbortController();
        const stopped = await Promise.race([exited, sleep(20_000, 'still running', { signal: giveUp.signal })]);
        giveUp.abort();
        if (stopped === 'still running') child.kill('SIGKILL');
        expect(stopped, stderr).toBe(0);
      }, 120_000);
    });

    describe('two pages chat through the UI', () => {
      for (const channel of channels)
        it(channel.name, async () => {
          const context = await stack.browser.newContext({ viewport: { width: 1200, height: 820 } });
          context.setDefaultTimeout(10_000);
          try {
            const a = await context.newPage();
            const b = await context.newPage();
            for (const page of [a, b]) await page.goto(stack.pageUrl('127.0.0.1'));
            const idA = await connectThroughUi(a, channel);
            const idB = await connectThroughUi(b, channel);
            // A was there first: it hears B join.
            await a.locator('#presence li', { hasText: idB }).waitFor();
            await a.locator('#log li', { hasText: `${idB} joined` }).waitFor();

            const text = `hello from A over ${channel.name}`;
            await a.fill('#message', text);
            await a.press('#message', 'Enter');
            const received = b.locator('#log li[data-kind="broadcast"]', { hasText: text });
            await received.waitFor();
            expect(await received.locator('.from').textContent()).toBe(`${idA}:`);
            // At least A and B: a connection of an earlier test may still be on its way out.
            const own = a.locator('#log li[data-kind="broadcast"]', { hasText: `${text} (delivered to ` });
            await own.waitFor();
            expect(Number(/\(delivered to (\d+)\)/.exec((await own.textContent()) ?? '')?.[1])).toBeGreaterThanOrEqual(
              2,
            );
            expect(await a.locator('#presence li').count()).toBe(2);
            expect(await a.textContent('#presence-count')).toBe('(2)');

            await b.fill('#message', 'echo me');
            await b.click('#echo');
            await b.locator('#log li[data-kind="echo"]', { hasText: 'echo: echo me' }).waitFor();
            const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
            await b.setInputFiles('#file', { name: 'bytes.bin', mimeType: 'application/octet-stream', buffer: bytes });
            await b
              .locator('#log li[data-kind="file"]', { hasText: 'bytes.bin: 4096 bytes echoed back, identical' })
              .waitFor();

            // The live round-trip row of the open connection has samples.
            await a.waitForFunction(
              () => Number(document.querySelector('#rtt tr.live td:nth-child(4)')?.textContent) > 0,
            );

            await b.click('#disconnect');
            const closedText =
              channel.transport.client === 'socketio'
                ? 'disconnected: io client disconnect'
                : 'closed 1000 (normal closure)';
            await b.locator('#close-info', { hasText: closedText }).waitFor();
            await a.locator('#log li', { hasText: `${idB} left` }).waitFor();
            await a.locator('#presence li', { hasText: idB }).waitFor({ state: 'detached' });
            expect(await a.locator('#presence li').count()).toBe(1);
            expect(await a.textContent('#presence-count')).toBe('(1)');

            const file = channel.name.replace(/\W+/g, '-').replace(/-$/, '');
            await a.screenshot({ path: join(artifactsDir, `chat-${file}-a.png`) });
            await b.screenshot({ path: join(artifactsDir, `chat-${file}-b.png`) });
          } finally {
            await context.close();
          }
        });
    });

    describe('the room list', () => {
      // Needs servers that send welcome.members (CONTRACT.md section 1).
      for (const channel of channels)
        it(`${channel.name}: a newcomer lists everyone already here from welcome.members, then follows joins and leaves`, async () => {
          const context = await stack.browser.newContext({ viewport: { width: 1200, height: 820 } });
          context.setDefaultTimeout(10_000);
          try {
            const [a, b, c] = [await context.newPage(), await context.newPage(), await context.newPage()];
            for (const page of [a, b, c]) await page.goto(stack.pageUrl('127.0.0.1'));
            const idA = await connectThroughUi(a, channel);
            const idB = await connectThroughUi(b, channel);
            await b
              .locator('#presence li', { hasText: idA })
              .waitFor()
              .catch(async (error: Error) => {
                throw new Error(
                  `B's room list lacks A, who was there first (the server's welcome has no members?): "${await b.textContent('#presence')}"; ${error.message}`,
                );
              });
            await a.locator('#presence li', { hasText: idB }).waitFor();

            // C arrives: it lists A and B from its welcome; A and B add C from its join.
            const idC = await connectThroughUi(c, channel);
            for (const id of [idA, idB]) await c.locator('#presence li', { hasText: id }).waitFor();
            for (const page of [a, b]) await page.locator('#presence li', { hasText: idC }).waitFor();
            for (const page of [a, b, c]) {
              // The count is the list's length, and each id is listed once.
              const items = await page.locator('#presence li').allTextContents();
              expect(new Set(items).size).toBe(items.length);
              expect(await page.textContent('#presence-count')).toBe(`(${items.length})`);
            }
            expect(await c.locator('#presence li.self').textContent()).toBe(`${idC} (you)`);

            // B leaves: A and C drop it, and their counts go down by one.
            const countBefore = await c.locator('#presence li').count();
            await b.click('#disconnect');
            for (const page of [a, c]) {
              await page.locator('#presence li', { hasText: idB }).waitFor({ state: 'detached' });
              await page.locator('#log li', { hasText: `${idB} left` }).waitFor();
            }
            expect(await c.locator('#presence li').count()).toBe(countBefore - 1);
            expect(await c.textContent('#presence-count')).toBe(`(${countBefore - 1})`);
            const file = channel.name.replace(/\W+/g, '-').replace(/-$/, '');
            await c.screenshot({ path: join(artifactsDir, `room-list-${file}.png`) });
          } finally {
            await context.close();
          }
          // Three pages through the UI: about 25 s on a loaded 2-core machine.
        }, 60_000);
    });

    it('shows why a connection could not be made: an unusable URL, an unreachable server', async () => {
      const page = await stack.browser.newPage();
      page.setDefaultTimeout(10_000);
      try {
        await page.goto(stack.pageUrl('127.0.0.1'));
        await page.check('input[name="transport"][value="ws"]');
        // A scheme the WebSocket constructor rejects (a relative text would resolve against the page).
        await page.fill('#server-url', 'ftp://127.0.0.1/');
        await page.click('#connect');
        await page.locator('#close-info', { hasText: 'cannot connect:' }).waitFor();
        // Port 1 on loopback: nothing listens, the browser sees 1006.
        await page.fill('#server-url', 'ws://127.0.0.1:1/');
        await page.click('#connect');
        await page
          .locator('#close-info', { hasText: 'refused or unreachable: could not connect to ws://127.0.0.1:1/' })
          .waitFor();
        expect(await page.getAttribute('#close-info', 'data-error')).toBe('true');
        expect(await page.getAttribute('#status', 'data-state')).toBe('closed');
      } finally {
        await page.close();
      }
    });

    it('measures the round-trip time of every transport', async () => {
      const page = await stack.browser.newPage();
      try {
        await page.goto(stack.pageUrl('127.0.0.1'));
        await page.click('#measure-all');
        const names = channels.map((channel) => channel.name);
        // Ten probes per transport, each over its own short-lived connection.
        await page.waitForFunction(
          (expected) =>
            expected.every((name) => {
              const row = document.querySelector(`#rtt tr[data-channel="${name}"]`);
              return Number(row?.children[3]?.textContent) >= 10;
            }),
          names,
          { timeout: 20_000 },
        );
        await page.locator('#measure-all:enabled').waitFor();
        const errors = await page.locator('#log li[data-kind="error"]').allTextContents();
        // Outside CI a transport's app may be missing from the checkout: its failure is expected.
        expect(errors.filter((line) => names.some((name) => line.includes(`${name}: could not measure`)))).toEqual([]);
        await page.screenshot({ path: join(artifactsDir, 'rtt-every-transport.png') });
      } finally {
        await page.close();
      }
    });

    // Last: it stops the servers.
    it('every page sees its server shut down: 1001 on WebSocket transports, a transport close on socket.io', async () => {
      const context = await stack.browser.newContext({ viewport: { width: 1200, height: 820 } });
      context.setDefaultTimeout(10_000);
      try {
        const pages = new Map<Channel, Page>();
        for (const channel of channels) {
          const page = await context.newPage();
          await page.goto(stack.pageUrl('127.0.0.1'));
          await connectThroughUi(page, channel);
          pages.set(channel, page);
        }
        const exitCodes = await Promise.all([...stack.servers.values()].map((server) => server.stop('SIGTERM')));
        expect(exitCodes.every((code) => code === 0)).toBe(true);
        for (const [channel, page] of pages) {
          const expected =
            // socket.io: a transport close (like 1001, "come back later"), not "io server disconnect" ("do not").
            channel.transport.client === 'socketio' ? 'disconnected: transport close' : 'closed 1001 (going away)';
          await page
            .locator('#close-info', { hasText: expected })
            .waitFor()
            .catch(async (error: Error) => {
              throw new Error(
                `${channel.name}: the page shows "${await page.textContent('#close-info')}"; ${error.message}`,
              );
            });
          expect(await page.getAttribute('#status', 'data-state')).toBe('closed');
        }
        const first = pages.get(channels[0]!);
        await first?.screenshot({ path: join(artifactsDir, 'server-shutdown.png') });
      } finally {
        await context.close();
      }
    });
  },
);

function modeOf(channel: Channel): Partial<HarnessConnectSpec> {
  return channel.mode ? { socketioTransport: channel.mode } : {};
}

function open(page: Page, spec: HarnessConnectSpec): Promise<JSHandle<Connection>> {
  return page.evaluateHandle((s) => window.socketlab.connect(s), spec);
}

function opened(client: JSHandle<Connection>): Promise<{ protocol: string }> {
  return client.evaluate(async (c) => {
    await c.opened;
    return { protocol: c.protocol };
  });
}

function receive(client: JSHandle<Connection>, type?: string): Promise<unknown> {
  return client.evaluate((c, t) => window.socketlab.receive(c, t as never), type);
}

function closedEnd(client: JSHandle<Connection>): Promise<ConnectionEnd> {
  return client.evaluate((c) => c.closed);
}

function closeAndWait(client: JSHandle<Connection>): Promise<ConnectionEnd> {
  return client.evaluate((c) => {
    c.close();
    return c.closed;
  });
}

/**
 * The next message, in arrival order, leaving out joins and leaves of connections from
 * earlier tests: their leave can still be on its way when the next test connects.
 */
async function nextAbout(client: JSHandle<Connection>, ours: ReadonlySet<string>): Promise<unknown> {
  for (;;) {
    const message = (await receive(client)) as { type: string; id?: string };
    if ((message.type === 'join' || message.type === 'leave') && !ours.has(message.id ?? '')) continue;
    return message;
  }
}

/** Picks the channel in the page's controls, clicks Connect, and returns the id the page shows. */
/** The first `count` lines a process prints, or a clear failure with its stderr. */
function readLines(stream: Readable, count: number, timeoutMs: number, stderr: () => string): Promise<string[]> {
  const lines: string[] = [];
  const reader = createInterface({ input: stream });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reader.close();
      reject(
        new Error(`only ${lines.length} of ${count} lines within ${timeoutMs} ms: ${lines.join(' | ')}\n${stderr()}`),
      );
    }, timeoutMs);
    reader.on('line', (line) => {
      if (lines.push(line) < count) return;
      clearTimeout(timer);
      reader.close();
      resolve(lines);
    });
    reader.on('close', () => {
      clearTimeout(timer);
      if (lines.length < count)
        reject(new Error(`output ended after ${lines.length} lines: ${lines.join(' | ')}\n${stderr()}`));
    });
  });
}

async function connectThroughUi(page: Page, channel: Channel): Promise<string> {
  await page.check(`input[name="transport"][value="${channel.transport.key}"]`);
  if (channel.mode) await page.selectOption('#socketio-transport', channel.mode);
  await page.click('#connect');
  await page.locator('#status[data-state="open"]').waitFor();
  const self = await page.locator('#presence li.self').textContent({ timeout: 10_000 });
  const id = self?.replace(/ \(you\)$/, '');
  if (!id) throw new Error(`the page shows no own id after connecting over ${channel.name}`);
  return id;
}
