import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The root `pnpm start` exactly as typed at the repository root, through pnpm, in a fresh
 * process: its flags, and what its signals do to every process it started (checked by pid).
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const serverApps = readdirSync(join(root, 'apps')).filter((name) => name.endsWith('-server'));
const BOOT = 150_000;

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const runs: Run[] = [];
afterEach(() => {
  // Whatever a failed test left: its process group, then anything of it by pid.
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      try {
        process.kill(-run.child.pid!, 'SIGKILL');
      } catch {}
    }
  }
});

/** `pnpm <args>` in its own process group, as a terminal runs a foreground command. */
function pnpm(args: string[]): Run {
  const child = spawn('pnpm', args, { cwd: root, detached: true, stdio: 'pipe' });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const run = { child, stdout: () => stdout, stderr: () => stderr, exited };
  runs.push(run);
  return run;
}

/** The URLs `pnpm start` printed, by app (`web` for the page), once every one is there. */
async function urls(run: Run): Promise<Map<string, string>> {
  return eventually(
    () => {
      const page = /^socketlab playground: (\S+)$/m.exec(run.stdout())?.[1];
      const found = new Map(
        serverApps.map((app) => [app, new RegExp(`^  ${app} +(\\S+)$`, 'm').exec(run.stdout())?.[1]]),
      );
      if (run.child.exitCode !== null) throw new Error(`pnpm start exited early\n${run.stdout()}\n${run.stderr()}`);
      if (page === undefined || [...found.values()].some((url) => url === undefined)) return undefined;
      return new Map([...(found as Map<string, string>), ['web', page]]);
    },
    BOOT - 20_000,
    'pnpm start to print every URL',
    100,
  );
}

/** Every live process under `pid` (Linux /proc), zombies excluded: they hold no port. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const stat = procStat(Number(entry));
    if (!stat) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function procStat(pid: number): { ppid: number; state: string } | undefined {
  if (!Number.isInteger(pid)) return undefined;
  try {
    // "pid (comm) state ppid ...": comm may hold spaces, so read from the last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '', ppid = ''] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' ? undefined : { ppid: Number(ppid), state };
  } catch {
    return undefined;
  }
}

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/**
 * A WebSocket client that completes the handshake and then never answers: the server's
 * graceful shutdown sends it 1001 and waits (up to --shutdown-timeout) for a reply.
 */
function silentClient(url: string): Promise<{ closeCode: Promise<number> }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the server's FIN does not make this client close its side either.
    const socket = connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    let gotClose: (code: number) => void = () => {};
    const closeCode = new Promise<number>((done) => (gotClose = done));
    socket.once('error', reject);
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: echo-protocol\r\nOrigin: http://127.0.0.1\r\n\r\n',
    );
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buffer.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101')) {
          return reject(new Error(`no upgrade from ${url}: ${buffer.toString('latin1')}`));
        }
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        resolve({ closeCode });
      }
      // Unmasked server frames with payloads under 126 bytes (welcome, close): skip to a close.
      while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1]! & 0x7f)) {
        const length = buffer[1]! & 0x7f;
        if ((buffer[0]! & 0x0f) === 0x8) gotClose(buffer.readUInt16BE(2));
        buffer = buffer.subarray(2 + length);
      }
    });
  });
}

describe('the root pnpm start, as typed', () => {
  it('prints its own usage for --help, with or without the --, and refuses --port N', async () => {
    for (const args of [
      ['start', '--help'],
      ['start', '--', '--help'],
    ]) {
      const run = pnpm(args);
      expect((await within(run.exited, 60_000, `pnpm ${args.join(' ')}`)).code, run.stderr()).toBe(0);
      expect(run.stdout()).toContain('Usage: pnpm start [--] [flags]');
      expect(run.stdout()).toContain('--port 0');
    }
    const refused = pnpm(['start', '--', '--port', '1']);
    expect((await within(refused.exited, 60_000, 'pnpm start -- --port 1')).code).toBe(2);
    expect(refused.stderr()).toContain('pnpm start: --port 1: one port cannot serve every app');
    // Checked once, before any server starts: one line, not one per app.
    const bad = pnpm(['start', '--heartbeat', '-5']);
    expect((await within(bad.exited, 60_000, 'pnpm start --heartbeat -5')).code).toBe(2);
    expect(bad.stderr().match(/--heartbeat must be more than 0, got "-5"/g)).toHaveLength(1);
  }, 240_000);

  it(
    'SIGTERM to the pnpm process (docker stop) takes start-all, every server and the page down',
    async () => {
      const run = pnpm(['start', '--', '--port', '0']);
      const byApp = await urls(run);
      const pids = descendants(run.child.pid!);
      // start-all (the script `exec`s it, so no sh stays), each server and the page; tsx's
      // esbuild helpers come and go, so they are not counted.
      expect(pids.length, 'processes under pnpm').toBeGreaterThanOrEqual(1 + serverApps.length + 1);
      const ports = [...byApp.values()].map((url) => Number(new URL(url).port));
      for (const port of ports) expect(await portFree(port), `port ${port} in use while running`).toBe(false);

      process.kill(run.child.pid!, 'SIGTERM');
      await within(run.exited, 20_000, 'pnpm to exit on SIGTERM');
      const left = await eventually(
        () => (pids.every((pid) => procStat(pid) === undefined) ? [] : false),
        20_000,
        `every process of pnpm start to end (left: ${pids.filter((pid) => procStat(pid) !== undefined)})`,
        100,
      );
      expect(left).toEqual([]);
      for (const port of ports) expect(await portFree(port), `port ${port} free afterwards`).toBe(true);
      // Each server went down gracefully (exit 0), not killed.
      expect(run.stdout()).toMatch(
        new RegExp(`socketlab stopped \\(\\w+\\); exit codes: ${serverApps.map((app) => `${app} 0`).join(', ')}, web`),
      );
    },
    BOOT,
  );

  it(
    "one Ctrl-C (SIGINT to the process group) is one graceful shutdown per server; --verbose streams each app's logs live",
    async () => {
      const run = pnpm(['start', '--', '--port', '0', '--verbose', '--shutdown-timeout', '2s']);
      const byApp = await urls(run);
      const websocketApps = serverApps.filter((app) => byApp.get(app)!.startsWith('ws://'));
      expect(websocketApps.length).toBeGreaterThan(0);
      const clients = await Promise.all(websocketApps.map((app) => silentClient(byApp.get(app)!)));
      // Streamed as it happens, prefixed with the app: the join is logged while everything runs.
      for (const app of websocketApps) {
        await eventually(
          () => run.stderr().includes(`[${app}] {`) && /"msg":"connection joined"/.test(run.stderr()),
          10_000,
          `${app}'s "connection joined" on pnpm start's stderr`,
          50,
        );
      }

      process.kill(-run.child.pid!, 'SIGINT');
      const closes = await Promise.all(clients.map((client) => within(client.closeCode, 10_000, 'a close frame')));
      expect(closes).toEqual(websocketApps.map(() => 1001));
      const { code, signal } = await within(run.exited, 30_000, 'pnpm to exit after Ctrl-C');

      const logs = run.stderr();
      for (const app of serverApps) {
        const shutdowns = logs
          .split('\n')
          .filter((line) => line.startsWith(`[${app}] `) && line.includes('"shutting down"'));
        expect(shutdowns, `${app}: one graceful shutdown`).toHaveLength(1);
      }
      // A server that took the group's SIGINT and a SIGTERM of start-all's as two signals logs
      // "second signal", skips the graceful wait and exits 1.
      expect(logs).not.toContain('second signal');
      expect(run.stdout()).toMatch(
        new RegExp(
          `socketlab stopped \\(SIGINT\\); exit codes: ${serverApps.map((app) => `${app} 0`).join(', ')}, web`,
        ),
      );
      // What the README says pnpm reports: the script execs start-all (no shell in between to die
      // of the SIGINT), so pnpm ends with start-all's own exit code, 0 after a clean stop.
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    },
    BOOT,
  );
});
