/*
 * The production start the root README documents, on a fresh clone of this branch's HEAD in the
 * OS temp directory (so nothing resolves through the workspace's node_modules; uncommitted
 * changes are not in it): install, build, a production install (devDependencies gone, tsx and
 * TypeScript with them), then `pnpm --filter ws-server start` runs the compiled app with Node
 * alone and serves a client.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { READY_PATTERN } from '@socketlab/cli';
import { within } from '@socketlab/contract';
import { connect } from '@socketlab/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outsideEnv, readmeSection, run, WORKSPACE } from './run.js';

let temp: string;
let repo: string;
let server: ChildProcess | undefined;

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'socketlab-production-'));
  repo = join(temp, 'socketlab');
  const head = run('git', ['rev-parse', 'HEAD'], { cwd: WORKSPACE, timeoutMs: 10_000 }).stdout.trim();
  run('git', ['clone', '--quiet', '--no-hardlinks', WORKSPACE, repo], { cwd: temp, timeoutMs: 60_000 });
  run('git', ['checkout', '--quiet', '--detach', head], { cwd: repo, timeoutMs: 10_000 });
  // Bounds for a loaded 2-core machine: the whole build took over 5 minutes there with 8 agents.
  for (const args of PRODUCTION_STEPS) run('pnpm', args, { cwd: repo, timeoutMs: 600_000 });
}, 1_500_000);

afterAll(async () => {
  if (server?.pid && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    process.kill(-server.pid, 'SIGKILL');
    await exited;
  }
  if (temp && !process.env.SOCKETLAB_KEEP_TEMP) rmSync(temp, { recursive: true, force: true });
});

/** The steps before the start, as the README's production section lists them. */
const PRODUCTION_STEPS = [['install', '--frozen-lockfile'], ['build'], ['install', '--prod', '--frozen-lockfile']];

describe('a production start from a fresh clone', () => {
  it('is the sequence the README documents', () => {
    const section = readmeSection(readFileSync(join(WORKSPACE, 'README.md'), 'utf8'), 'Running in production');
    for (const args of PRODUCTION_STEPS) expect(section).toContain(`pnpm ${args.join(' ')}`);
    expect(section).toContain('pnpm --filter ws-server start');
    expect(section).toContain('node apps/ws-server/dist/main.js');
  });

  it('left no development tools: tsx and TypeScript are not installed', () => {
    const appDir = join(repo, 'apps', 'ws-server');
    expect(existsSync(join(appDir, 'dist', 'main.js'))).toBe(true);
    for (const tool of ['tsx', 'typescript']) {
      expect(existsSync(join(appDir, 'node_modules', tool)), `apps/ws-server/node_modules/${tool}`).toBe(false);
      expect(existsSync(join(repo, 'node_modules', tool)), `node_modules/${tool}`).toBe(false);
    }
    // The adapter the app imports is the clone's own package, not the workspace's.
    expect(realpathSync(join(appDir, 'node_modules', '@socketlab', 'ws')).startsWith(repo + sep)).toBe(true);
  });

  it('pnpm --filter ws-server start --port 0 runs the compiled app with node alone and serves a client', async () => {
    // `start --port 0`, not `start -- --port 0`: the leading '--' that pnpm 10 hands on is the
    // cli's business (issue 12, "Commands as documented") and tested there.
    const { url, output } = await startUntilReady('pnpm', ['--filter', 'ws-server', 'start', '--port', '0']);
    expect(output).toContain('node dist/main.js');
    expect(output).not.toContain('tsx');
    await echoOnce(url);
    await stopServer();
  }, 120_000);

  it('node apps/ws-server/dist/main.js --port 0, the documented command without pnpm, serves a client', async () => {
    const { url } = await startUntilReady(process.execPath, ['apps/ws-server/dist/main.js', '--port', '0']);
    await echoOnce(url);
    expect(await stopServer()).toBe(0);
  }, 120_000);

  it('without a build, start says what to run instead of failing inside Node', () => {
    const dist = join(repo, 'apps', 'ws-server', 'dist');
    renameSync(dist, `${dist}.moved`);
    try {
      const result = spawnSync('pnpm', ['--filter', 'ws-server', 'start', '--port', '0'], {
        cwd: repo,
        env: outsideEnv(),
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status).not.toBe(0);
      expect(result.stderr + result.stdout).toContain(
        'ws-server: dist/main.js is missing and TypeScript is not installed here to build it. Build before the production install: pnpm install --frozen-lockfile && pnpm build && pnpm install --prod --frozen-lockfile',
      );
    } finally {
      renameSync(`${dist}.moved`, dist);
    }
  }, 90_000);
});

/** Starts a command in the clone, in its own process group, and resolves with its ready line's URL. */
async function startUntilReady(command: string, args: string[]): Promise<{ url: string; output: string }> {
  // detached: its own process group, so stopping it stops pnpm and the server together.
  const child = spawn(command, args, {
    cwd: repo,
    env: outsideEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server = child;
  let output = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      const match = READY_PATTERN.exec(line);
      if (match) resolve(match[3] ?? '');
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before its ready line`)));
  });
  try {
    const url = await within(ready, 60_000, `the ready line of ${command} ${args.join(' ')}`);
    return { url, output };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${output}`);
  }
}

/** One client: welcome, then an echo round trip. */
async function echoOnce(url: string): Promise<void> {
  const client = await connect(url);
  try {
    await within(client.receive('welcome'), 10_000, 'welcome');
    client.send({ type: 'echo', payload: { text: 'from production' } });
    expect(await within(client.receive('echo'), 10_000, 'echo')).toEqual({
      type: 'echo',
      payload: { text: 'from production' },
    });
  } finally {
    client.close();
  }
}

/** SIGTERM to the whole process group (what a supervisor sends); resolves with the exit code. */
async function stopServer(): Promise<number | null> {
  const child = server!;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.kill(-child.pid!, 'SIGTERM');
  return within(exited, 15_000, 'the server to stop on SIGTERM');
}
