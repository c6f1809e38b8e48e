import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { READY_PATTERN } from '@socketlab/cli';
import { startServerProcess } from '@socketlab/cli/process';
import { type Adapter, CloseCode, eventually, HandshakeError, type RealtimeClient, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { describeOperations } from './operations.js';
import { runPnpm, spawnPnpm } from './pnpm.js';
import { closePayload, Opcode, RawPeer, upgradeRequestText } from './raw.js';
import { servedSerial, testTls } from './tls.js';

const BOOT = 60_000;

/**
 * Declares the tests every server app must pass, run as a user runs it: its own process
 * from its sources, flags on the command line, the ready line, signals, exit codes.
 */
export function describeServerApp(appDir: string, adapter: Adapter): void {
  const name = appDir.split('/').at(-1) ?? appDir;
  describe(`server app: ${name}`, () => {
    const stops: (() => Promise<unknown>)[] = [];
    const clients: RealtimeClient[] = [];
    afterEach(async () => {
      for (const client of clients.splice(0)) client.terminate();
      await Promise.all(stops.splice(0).map((stop) => stop()));
    });
    const start = async (args: string[] = []) => {
      const server = await startServerProcess(appDir, ['--port', '0', ...args]);
      stops.push(() => server.stop('SIGKILL'));
      return server;
    };
    const connect = async (url: string, origin?: string, ca?: string) => {
      const client = await adapter.connect(url, {
        ...(origin === undefined ? {} : { origin }),
        ...(ca === undefined ? {} : { ca }),
      });
      clients.push(client);
      return client;
    };

    it(
      'serves wss:// (https://) with --tls-cert and --tls-key, started with pnpm as the README shows',
      async () => {
        const { leaf } = testTls();
        const app = await startWithPnpm(appDir, name, [
          '--tls-cert',
          leaf.certFile,
          '--tls-key',
          leaf.keyFile,
          '--port',
          '0',
        ]);
        stops.push(app.stop);
        expect(app.url).toMatch(/^(wss|https):\/\/127\.0\.0\.1:\d+\/?$/);
        const client = await connect(app.url, undefined, leaf.ca);
        expect(await client.receive()).toMatchObject({ type: 'welcome' });
        client.send({ type: 'echo', payload: { over: 'tls' } });
        expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { over: 'tls' } });
        // A client that does not trust the certificate does not get in.
        await expect(adapter.connect(app.url)).rejects.toBeInstanceOf(HandshakeError);
      },
      BOOT,
    );

    it(
      'reloads the certificate and key on SIGHUP: open connections stay, new handshakes get the new pair',
      async () => {
        const { ca, leaf } = testTls();
        const dir = mkdtempSync(join(tmpdir(), 'socketlab-reload-'));
        const certFile = join(dir, 'cert.pem');
        const keyFile = join(dir, 'key.pem');
        copyFileSync(leaf.certFile, certFile);
        copyFileSync(leaf.keyFile, keyFile);
        const server = await start(['--tls-cert', certFile, '--tls-key', keyFile]);
        const client = await connect(server.url, undefined, leaf.ca);
        await client.receive('welcome');
        expect(await servedSerial(server.port, leaf.ca)).toBe(leaf.serialNumber);
        const next = ca.issue();
        copyFileSync(next.certFile, certFile);
        copyFileSync(next.keyFile, keyFile);
        server.child.kill('SIGHUP');
        await eventually(
          async () => (await servedSerial(server.port, leaf.ca)) === next.serialNumber,
          10_000,
          'a new handshake to see the new certificate',
        );
        client.send({ type: 'echo', payload: 'still here' });
        expect(await client.receive('echo')).toStrictEqual({ type: 'echo', payload: 'still here' });
        const other = await connect(server.url, undefined, leaf.ca);
        await other.receive('welcome');
        expect(await client.receive('join')).toMatchObject({ type: 'join' });
        // A mismatched pair on the next SIGHUP is logged and the served pair stays.
        copyFileSync(leaf.certFile, certFile);
        server.child.kill('SIGHUP');
        await eventually(() => server.stderr().includes('TLS reload failed'), 10_000, 'the failed reload logged');
        expect(await servedSerial(server.port, leaf.ca)).toBe(next.serialNumber);
        expect(server.child.exitCode).toBeNull();
      },
      BOOT,
    );

    it(
      'exits 1 with one clear line when a TLS file is unreadable or the key does not match',
      async () => {
        const { ca, leaf } = testTls();
        const missing = await runToExit(appDir, [
          '--port',
          '0',
          '--tls-cert',
          '/nonexistent/cert.pem',
          '--tls-key',
          leaf.keyFile,
        ]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toBe(`${name}: cannot read --tls-cert /nonexistent/cert.pem: no such file\n`);
        const other = ca.issue();
        const mismatched = await runToExit(appDir, [
          '--port',
          '0',
          '--tls-cert',
          leaf.certFile,
          '--tls-key',
          other.keyFile,
        ]);
        expect(mismatched.code).toBe(1);
        expect(mismatched.stderr).toMatch(/^\S+: --tls-cert .* the key does not belong to the certificate\n$/);
        const notPem = await runToExit(appDir, ['--port', '0', '--tls-cert', leaf.keyFile, '--tls-key', leaf.keyFile]);
        expect(notPem.code).toBe(1);
        expect(notPem.stderr.trim().split('\n')).toHaveLength(1);
        expect(notPem.stderr).toMatch(/are not a usable PEM certificate and key/);
        const alone = await runToExit(appDir, ['--tls-cert', leaf.certFile]);
        expect(alone.code).toBe(2);
        expect(alone.stderr).toMatch(/--tls-cert and --tls-key go together/);
      },
      BOOT,
    );

    it.each(['SIGTERM', 'SIGINT'] as const)(
      'prints one ready line, serves the contract, and on %s closes clients with 1001 and exits 0',
      async (signal) => {
        const server = await start();
        expect(server.name).toBe(name);
        expect(server.url).toMatch(/^(ws|http):\/\/127\.0\.0\.1:\d+\/?$/);
        const client = await connect(server.url);
        expect(await client.receive()).toMatchObject({ type: 'welcome' });
        client.send({ type: 'echo', payload: { hello: 'app' } });
        expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { hello: 'app' } });
        const exit = server.stop(signal);
        const closed = await within(client.closed, 15_000, 'client to see the shutdown');
        if (adapter.capabilities.closeCodes) expect(closed.code).toBe(CloseCode.goingAway);
        expect(await within(exit, 15_000, 'the app to exit')).toBe(0);
      },
      BOOT,
    );

    if (adapter.capabilities.websocketProtocol) {
      it(
        'serves an independent raw RFC 6455 client the whole contract',
        async () => {
          const server = await start();
          const peer = await RawPeer.upgraded(server.port);
          stops.push(async () => peer.destroy());
          const text = async () =>
            JSON.parse((await peer.readFrame()).payload.toString('utf8')) as Record<string, unknown>;
          const welcome = await text();
          expect(welcome).toStrictEqual({ type: 'welcome', id: expect.any(String), members: [] });
          peer.sendFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'echo', payload: { n: [1, 'ü'] } }) });
          expect(await text()).toStrictEqual({ type: 'echo', payload: { n: [1, 'ü'] } });
          peer.sendFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'broadcast', payload: 'all' }) });
          expect(await text()).toStrictEqual({ type: 'broadcast', from: welcome.id, payload: 'all' });
          expect(await text()).toStrictEqual({ type: 'broadcastResult', payload: 'all', recipients: 1 });
          peer.sendFrame({ opcode: Opcode.binary, payload: Buffer.from([0, 255, 7]) });
          const binary = await peer.readFrame();
          expect(binary.opcode).toBe(Opcode.binary);
          expect([...binary.payload]).toEqual([0, 255, 7]);
          peer.sendFrame({ opcode: Opcode.text, payload: '{"type":"nope"}' });
          expect(await text()).toStrictEqual({ type: 'error', code: 'bad_request', message: expect.any(String) });
          peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
          expect(await peer.readClose()).toMatchObject({ code: 1000, frame: true });
          await peer.waitEnd();
        },
        BOOT,
      );
    }

    it(
      `takes --per-message-deflate: ${adapter.capabilities.compression ? 'an offer is accepted' : 'an offer still gets an uncompressed upgrade'}; off without it`,
      async () => {
        const answer = async (args: string[]) => {
          const server = await start(args);
          const client = await adapter.connect(server.url, { perMessageDeflate: true });
          clients.push(client);
          await client.receive('welcome');
          const payload = { text: 'compress me '.repeat(200) };
          client.send({ type: 'echo', payload });
          expect(await client.receive('echo')).toStrictEqual({ type: 'echo', payload });
          if (!adapter.capabilities.websocketProtocol) return undefined;
          const peer = await RawPeer.open(server.port);
          stops.push(async () => peer.destroy());
          peer.write(
            upgradeRequestText(`127.0.0.1:${server.port}`, {
              protocols: ['echo-protocol'],
              extraHeaders: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
            }),
          );
          const head = await peer.readHead();
          expect(head.status).toBe(101);
          return head.headers['sec-websocket-extensions'];
        };
        const on = await answer(['--per-message-deflate', '--per-message-deflate-threshold', '0']);
        const off = await answer([]);
        if (adapter.capabilities.websocketProtocol) {
          if (adapter.capabilities.compression) expect(on).toMatch(/^permessage-deflate/);
          else expect(on).toBeUndefined();
          expect(off).toBeUndefined();
        }
      },
      BOOT,
    );

    it(
      'is quiet by default and logs JSON on stderr with --verbose',
      async () => {
        const quiet = await start();
        const a = await connect(quiet.url);
        await a.receive('welcome');
        a.send({ type: 'echo', payload: 'quiet?' });
        await a.receive('echo');
        a.terminate();
        // Read only after the quiet app has exited: then everything it had to say is on stderr,
        // the connection's end and the shutdown included.
        expect(await within(quiet.stop('SIGTERM'), 15_000, 'the quiet app to exit')).toBe(0);
        expect(quiet.stderr()).toBe('');
        const loud = await start(['--verbose']);
        const b = await connect(loud.url);
        await b.receive('welcome');
        await within(
          new Promise<void>((resolve) => {
            const check = () => (loud.stderr().includes('connection joined') ? resolve() : undefined);
            loud.child.stderr?.on('data', check);
            check();
          }),
          10_000,
          'a verbose log line',
        );
        const line = loud
          .stderr()
          .split('\n')
          .find((l) => l.includes('connection joined'));
        expect(JSON.parse(line ?? '')).toMatchObject({ name, msg: 'connection joined' });
      },
      BOOT,
    );

    it(
      'takes --origin and --max-payload',
      async () => {
        const server = await start(['--origin', 'https://app.example', '--max-payload', '1KiB']);
        await expect(adapter.connect(server.url, { origin: 'http://localhost:5173' })).rejects.toMatchObject({
          name: HandshakeError.name,
          status: 403,
        });
        const client = await connect(server.url, 'https://app.example');
        await client.receive('welcome');
        client.send({ type: 'echo', payload: 'x'.repeat(2048) });
        const closed = await within(client.closed, 10_000, 'over-limit close');
        if (adapter.capabilities.closeCodes) expect(closed.code).toBe(CloseCode.messageTooBig);
      },
      BOOT,
    );

    it(
      'runs as the README types it, through pnpm, with or without the `--`',
      async () => {
        const root = join(appDir, '..', '..');
        // One after another: side by side they only compete for the same cores.
        for (const args of [['--', '--help'], ['--help']]) {
          const help = await runPnpm(root, ['--filter', name, 'start', ...args], BOOT);
          expect(help.code, help.stderr).toBe(0);
          expect(help.stdout).toContain(`Usage: pnpm --filter ${name} start [--] [flags]`);
        }
        const negative = await runPnpm(root, ['--filter', name, 'start', '--', '--heartbeat', '-5'], BOOT);
        expect(negative.code).toBe(2);
        expect(negative.stderr).toContain(`${name}: --heartbeat must be more than 0, got "-5"`);

        // Started the README's way, it serves with the flags after the `--`; SIGTERM to pnpm
        // (what a supervisor sends) takes the server down gracefully: pnpm passes it to the shell
        // between them, which dies, and the server sees its parent gone.
        const run = spawnPnpm(root, ['--filter', name, 'start', '--', '--port', '0', '--max-payload', '1KiB']);
        stops.push(async () => run.child.kill('SIGKILL'));
        const [, , , url = ''] = await run.line(READY_PATTERN, BOOT / 2);
        const client = await connect(url);
        await client.receive('welcome');
        client.send({ type: 'echo', payload: 'x'.repeat(2048) });
        const tooBig = await within(client.closed, 10_000, 'the over-limit close');
        if (adapter.capabilities.closeCodes) expect(tooBig.code).toBe(CloseCode.messageTooBig);
        const other = await connect(url);
        await other.receive('welcome');
        run.child.kill('SIGTERM');
        const closed = await within(other.closed, 15_000, 'the client to see the shutdown');
        if (adapter.capabilities.closeCodes) expect(closed.code).toBe(CloseCode.goingAway);
        await within(run.exited, 15_000, 'pnpm to exit');
        const { port } = new URL(url);
        await portFreed(Number(port), 15_000);
      },
      BOOT * 4,
    );

    it(
      'prints usage and exits 2 on a bad flag',
      async () => {
        const result = await runToExit(appDir, ['--port', 'eighty']);
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(/"eighty" is not a port/);
        expect(result.stderr).toMatch(/Usage:/);
        const unknown = await runToExit(appDir, ['--frobnicate']);
        expect(unknown.code).toBe(2);
        expect(unknown.stderr).toMatch(/Usage:/);
      },
      BOOT,
    );

    it(
      'exits 1 with a clear message when the port is taken',
      async () => {
        const blocker = createServer();
        await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        const { port } = blocker.address() as { port: number };
        try {
          const result = await runToExit(appDir, ['--port', String(port)]);
          expect(result.code).toBe(1);
          expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port}: address already in use`);
        } finally {
          blocker.close();
        }
      },
      BOOT,
    );
  });
  describeOperations(appDir, adapter);
}

/** Resolves once nothing listens on the port any more (the server process has let it go). */
async function portFreed(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return;
    if (Date.now() > deadline) throw new Error(`port ${port} still in use after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * `pnpm --filter <app> start -- <args>` from the repository root, exactly as a user types it;
 * resolves with the URL of its ready line. pnpm and the app are one process group, stopped together.
 */
function startWithPnpm(
  appDir: string,
  name: string,
  args: string[],
): Promise<{ url: string; stop: () => Promise<unknown> }> {
  const child = spawn('pnpm', ['--filter', name, 'start', '--', ...args], {
    cwd: join(appDir, '..', '..'),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    await within(exited, 15_000, `${name} (pnpm start) to exit`);
  };
  return within(
    new Promise<{ url: string; stop: () => Promise<unknown> }>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = READY_PATTERN.exec(line);
        if (match) resolve({ url: match[3] ?? '', stop });
      });
      child.once('exit', (code) => reject(new Error(`pnpm start exited with ${code} before it was ready\n${stderr}`)));
    }),
    BOOT / 2,
    `${name}: a ready line from pnpm start`,
  ).catch(async (error: unknown) => {
    await stop().catch(() => {});
    throw error;
  });
}

function runToExit(appDir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', join(appDir, 'src/main.ts'), ...args],
      {
        cwd: appDir,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}
