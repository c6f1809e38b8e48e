import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { isCI, probeRedis, TEST_REDIS_URL } from '@socketlab/bus/testing';
import { METRICS_PATTERN, READY_PATTERN } from '@socketlab/cli';
import { type Adapter, CloseCode, HandshakeError, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet } from './http.js';
import { scrapeMetrics as scrape } from './prometheus.js';

const BOOT = 90_000;

interface PnpmApp {
  url: string;
  port: number;
  /** With --metrics-port: where /healthz and /metrics are. */
  metricsUrl: string | undefined;
  stderr(): string;
  /** Every JSON log line so far; a line that is not JSON fails the test. */
  logs(): Record<string, unknown>[];
  /** Resolves once a log line matching `match` came. */
  logged(match: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  /** Signals pnpm and the app (one process group); resolves with pnpm's exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  child: ChildProcess;
}

/**
 * Starts a server app the way its README says: `pnpm --filter <app> start -- <flags>`, from the
 * repository root, in a fresh process group (so a signal reaches the app behind pnpm).
 */
function startWithPnpm(appDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<PnpmApp> {
  const name = appDir.split('/').at(-1) ?? appDir;
  const root = dirname(dirname(appDir));
  const child = spawn('pnpm', ['--silent', '--filter', name, 'start', '--', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = (): Record<string, unknown>[] =>
    stderr
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`a log line that is not JSON: ${line}`);
        }
      });
  // SIGKILL ends pnpm and the app together (cleanup); any other signal goes to the app alone,
  // as a supervisor's would, and pnpm exits with the app's code.
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        if (signal === 'SIGKILL') process.kill(-child.pid, signal);
        else process.kill(appPid(child.pid), signal);
      } catch {
        // already gone
      }
    }
    return exited;
  };
  return new Promise((resolve, reject) => {
    let metricsUrl: string | undefined;
    const timer = setTimeout(() => {
      void stop('SIGKILL');
      reject(new Error(`${name}: no ready line within ${BOOT} ms\n${stderr}`));
    }, BOOT - 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready\n${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const metrics = METRICS_PATTERN.exec(line);
      if (metrics) metricsUrl = metrics[2];
      const ready = READY_PATTERN.exec(line);
      if (!ready) return;
      clearTimeout(timer);
      const url = ready[3] ?? '';
      resolve({
        url,
        port: Number(new URL(url).port),
        metricsUrl,
        stderr: () => stderr,
        logs,
        logged: (match, what) =>
          within(
            new Promise((found) => {
              const check = (): void => {
                const line = logs().find(match);
                if (line) {
                  waiters.delete(check);
                  found(line);
                }
              };
              waiters.add(check);
              check();
            }),
            10_000,
            `a log line: ${what}`,
          ),
        stop,
        child,
      });
    });
  });
}

/** `start` runs the built app (`node dist/main.js`); `dev` runs its sources. */
const APP_ENTRY = /\b(dist\/main\.js|src\/main\.ts)\b/;

/** The server app's node process under pnpm (and the shell it may run the script in). */
function appPid(pnpmPid: number): number {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map(([, pid, ppid, args]) => ({ pid: Number(pid), ppid: Number(ppid), args: args ?? '' }));
  const below = new Set([pnpmPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of table) {
      if (below.has(row.ppid) && !below.has(row.pid)) {
        below.add(row.pid);
        grew = true;
      }
    }
  }
  const runs = table.filter((row) => below.has(row.pid) && row.pid !== pnpmPid && APP_ENTRY.test(row.args));
  // The shell that runs the script names the entry too: the app is the one with no such child.
  const app = runs.find((row) => !runs.some((other) => other.ppid === row.pid));
  if (!app) throw new Error(`no server app process under pnpm (pid ${pnpmPid})`);
  return app.pid;
}

const httpBase = (url: string): string => url.replace(/^ws:/, 'http:').replace(/\/?$/, '/');

/**
 * What an operator relies on, for every server app run through pnpm: /healthz, /metrics whose
 * counters follow the traffic, --metrics-port, --log-level info lines, and the environment.
 */
export function describeOperations(appDir: string, adapter: Adapter): void {
  const name = appDir.split('/').at(-1) ?? appDir;
  describe(`operations: ${name}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    const start = async (args: string[], env?: NodeJS.ProcessEnv) => {
      const app = await startWithPnpm(appDir, args, env);
      cleanups.push(() => app.stop('SIGKILL'));
      return app;
    };
    const connect = async (url: string, options: Parameters<Adapter['connect']>[1] = {}) => {
      const client = await adapter.connect(url, options);
      cleanups.push(() => client.terminate());
      return client;
    };

    it(
      'answers /healthz and /metrics on the public port, the counters follow the traffic, and --log-level info says why',
      async () => {
        const app = await start(['--port', '0', '--max-payload', '1KiB', '--log-level', 'info']);
        const base = httpBase(app.url);
        const health = await httpGet(`${base}healthz`);
        expect(health.status).toBe(200);
        expect(JSON.parse(health.body)).toStrictEqual({
          status: 'ok',
          adapter: adapter.name,
          connections: 0,
          bus: 'none',
          uptimeSeconds: expect.any(Number),
        });

        const before = await scrape(base);
        expect(before.types.get('socketlab_connections')).toBe('gauge');
        expect(before.types.get('socketlab_broadcast_fanout_seconds')).toBe('histogram');
        const client = await connect(app.url);
        await client.receive('welcome');
        const echoes = 7;
        for (let i = 0; i < echoes; i++) {
          client.send({ type: 'echo', payload: { i } });
          await client.receive('echo');
        }
        client.send({ type: 'broadcast', payload: 'all' });
        await client.receive('broadcastResult');
        const during = await scrape(base);
        const delta = (name: string, labels?: Record<string, string>) =>
          during.value(name, labels) - before.value(name, labels);
        expect(during.value('socketlab_connections')).toBe(1);
        expect(delta('socketlab_connections_opened_total')).toBe(1);
        expect(delta('socketlab_messages_in_total', { kind: 'echo' })).toBe(echoes);
        expect(delta('socketlab_messages_out_total', { kind: 'echo' })).toBe(echoes);
        expect(delta('socketlab_messages_in_total', { kind: 'broadcast' })).toBe(1);
        expect(delta('socketlab_messages_out_total', { kind: 'broadcast' })).toBe(1);
        expect(delta('socketlab_broadcast_fanout_seconds_count')).toBe(1);
        // At least the payloads' JSON went each way.
        expect(delta('socketlab_bytes_in_total', { kind: 'text' })).toBeGreaterThanOrEqual(echoes * 7);
        expect(delta('socketlab_bytes_out_total', { kind: 'text' })).toBeGreaterThanOrEqual(echoes * 7);
        expect(JSON.parse((await httpGet(`${base}healthz`)).body)).toMatchObject({ connections: 1 });

        // A refused Origin: the origin counter and one info line with the reason, peer and Origin.
        await expect(connect(app.url, { origin: 'https://evil.example' })).rejects.toMatchObject({
          name: HandshakeError.name,
          status: 403,
        });
        const refusal = await app.logged((line) => line.msg === 'handshake refused', 'the refused origin');
        expect(refusal).toMatchObject({
          level: 30,
          reason: 'origin',
          remoteAddress: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
          origin: 'https://evil.example',
        });
        const afterRefusal = await scrape(base);
        expect(
          afterRefusal.value('socketlab_handshakes_refused_total', { reason: 'origin' }) -
            during.value('socketlab_handshakes_refused_total', { reason: 'origin' }),
        ).toBe(1);

        // An over-limit message: closed by reason 1009 (socket.io: one more close, its own reason).
        client.send({ type: 'echo', payload: 'x'.repeat(2048) });
        const closed = await within(client.closed, 10_000, 'the over-limit close');
        if (adapter.capabilities.closeCodes) expect(closed.code).toBe(CloseCode.messageTooBig);
        // socket.io's websocket fails on it with 1009 and reports 'transport error'.
        const closeLine = await app.logged(
          (line) => line.msg === 'connection closed' && line.level === 30,
          'the over-limit close at info',
        );
        expect(closeLine).toMatchObject({
          code: adapter.capabilities.closeCodes ? 1009 : 'transport error',
          remoteAddress: expect.stringMatching(/127\.0\.0\.1$/),
        });
        const after = await within(
          (async () => {
            for (;;) {
              const scraped = await scrape(base);
              if (
                scraped.value('socketlab_connections_closed_total') > before.value('socketlab_connections_closed_total')
              )
                return scraped;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })(),
          10_000,
          'the close to be counted',
        );
        const closes = (labels?: Record<string, string>) =>
          after.value('socketlab_connections_closed_total', labels) -
          before.value('socketlab_connections_closed_total', labels);
        expect(closes()).toBe(1);
        expect(after.value('socketlab_connections')).toBe(0);
        if (adapter.capabilities.closeCodes) {
          expect(closes({ reason: '1009' })).toBe(1);
        }
        // Every line: JSON with an ISO timestamp (logs() throws on a line that is not JSON).
        for (const line of app.logs()) expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(await within(app.stop('SIGTERM'), 20_000, 'the app to exit')).toBe(0);
      },
      BOOT,
    );

    it(
      '--metrics-port moves them off the public port, SOCKETLAB_PORT=0 is read, and /healthz is 503 while shutting down',
      async () => {
        const app = await start(['--metrics-port', '0', '--shutdown-timeout', '4s'], { SOCKETLAB_PORT: '0' });
        expect(app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        const metricsBase = app.metricsUrl ?? '';
        expect(new URL(metricsBase).port).not.toBe(String(app.port));
        expect((await httpGet(`${metricsBase}healthz`)).status).toBe(200);
        await scrape(metricsBase);
        // The public port answers them as any other plain request now: not a metrics endpoint.
        const publicMetrics = await httpGet(`${httpBase(app.url)}metrics`);
        expect(publicMetrics.status).toBeGreaterThanOrEqual(400);
        expect(publicMetrics.body).not.toContain('socketlab_');

        // A client that no longer reads keeps the shutdown in its closing handshake for a while.
        const stuck = await connect(app.url);
        await stuck.receive('welcome');
        stuck.pauseReading();
        const exit = app.stop('SIGTERM');
        const unhealthy = await within(
          (async () => {
            for (;;) {
              const answer = await httpGet(`${metricsBase}healthz`);
              if (answer.status === 503) return answer;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })(),
          10_000,
          '/healthz to answer 503',
        );
        expect(JSON.parse(unhealthy.body)).toMatchObject({ status: 'shutting down', adapter: adapter.name });
        expect(await within(exit, 20_000, 'the app to exit')).toBe(0);
      },
      BOOT,
    );

    it(
      'lets the flag win over its environment variable',
      async () => {
        // Neither variable would start the app: not a port, and not a level.
        const app = await start(['--port', '0', '--log-level', 'warn'], {
          SOCKETLAB_PORT: 'eighty',
          SOCKETLAB_LOG_LEVEL: 'loud',
          SOCKETLAB_ORIGIN: 'https://env.example',
        });
        // What only the environment set still applies.
        await expect(connect(app.url, { origin: 'http://localhost:5173' })).rejects.toMatchObject({ status: 403 });
        const client = await connect(app.url, { origin: 'https://env.example' });
        await client.receive('welcome');
      },
      BOOT,
    );

    it(
      'logs a heartbeat timeout at info and counts it',
      async () => {
        const app = await start(['--port', '0', '--heartbeat', '400ms', '--log-level', 'info']);
        const silent = await connect(app.url);
        await silent.receive('welcome');
        silent.pauseReading();
        const line = await app.logged((l) => l.msg === 'heartbeat timeout: terminating', 'the heartbeat timeout');
        expect(line).toMatchObject({ level: 30, remoteAddress: expect.stringMatching(/127\.0\.0\.1$/) });
        const scraped = await scrape(httpBase(app.url));
        expect(scraped.value('socketlab_heartbeat_timeouts_total')).toBe(1);
      },
      BOOT,
    );

    it(
      "routes ioredis' own console warnings through the JSON log; workers log the public port",
      async (context) => {
        const unreachable = await probeRedis();
        if (unreachable !== undefined) {
          if (isCI())
            throw new Error(`needs Redis at ${TEST_REDIS_URL} (CI=true: failing, not skipping): ${unreachable}`);
          context.skip(`no Redis at ${TEST_REDIS_URL}: ${unreachable}`);
        }
        // A password the Redis does not need: ioredis warns about it with console.warn.
        const url = new URL(TEST_REDIS_URL);
        url.password = 'not-needed';
        const app = await start([
          '--port',
          '0',
          '--workers',
          '2',
          '--log-level',
          'info',
          '--redis-url',
          url.toString(),
          '--redis-prefix',
          `ops-${process.pid}-${adapter.name}`,
        ]);
        const warning = await app.logged(
          (l) => typeof l.msg === 'string' && l.msg.includes('does not require a password'),
          "ioredis' warning",
        );
        expect(warning).toMatchObject({ level: 40, source: 'console', name });
        const health = JSON.parse((await httpGet(`${httpBase(app.url)}healthz`)).body) as Record<string, unknown>;
        expect(health.bus).toBe('connected');
        const scraped = await scrape(httpBase(app.url));
        // One scrape answers for both workers (the primary gathers them), each with its label.
        for (const worker of ['1', '2'])
          expect(scraped.value('socketlab_bus_up', { worker }), `worker ${worker}`).toBe(1);
        // Each worker names the port clients use, not its own (sticky sessions: an internal one).
        const serving = app.logs().filter((l) => l.msg === 'serving');
        expect(serving.map((l) => l.worker).sort()).toEqual([1, 2]);
        for (const line of serving) expect(new URL(String(line.url)).port).toBe(String(app.port));
        // logs() has read every line as JSON: nothing plain among them.
      },
      BOOT,
    );
  });
}
