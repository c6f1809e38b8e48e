import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startServerProcess } from '@socketlab/cli/process';
import { type Adapter, CloseCode, HandshakeError, type RealtimeClient, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { describeOperations } from './operations.js';
import { closePayload, Opcode, RawPeer } from './raw.js';

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
    const connect = async (url: string, origin?: string) => {
      const client = await adapter.connect(url, origin === undefined ? {} : { origin });
      clients.push(client);
      return client;
    };

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
          expect(welcome).toStrictEqual({ type: 'welcome', id: expect.any(String) });
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
