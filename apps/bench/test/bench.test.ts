import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../src/report.js';
import { chartFileName } from '../src/report.js';
import { INJECT_LOSS_ENV } from '../src/soak.js';

const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
const outDir = mkdtempSync(join(tmpdir(), 'socketlab-bench-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** The benchmark as `pnpm bench` runs it, only tiny; its JSON from stdout. */
function runBench(args: string[]): { status: number | null; stderr: string; result: BenchResult } {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', 'src/main.ts', '--smoke', '--json', '--out', outDir, ...args],
    { cwd: benchDir, encoding: 'utf8', timeout: 240_000 },
  );
  if (run.status !== 0) throw new Error(`bench exited ${run.status}\n${run.stderr}`);
  return { status: run.status, stderr: run.stderr, result: JSON.parse(run.stdout) as BenchResult };
}

describe('pnpm bench, smoke size, end to end', () => {
  it('measures the floor and ws in their own processes and writes every result file', () => {
    const { stderr, result } = runBench(['--contenders', 'floor,ws']);
    // progress goes to stderr: which round, which contender, which metric
    expect(stderr).toMatch(/round 1\/1 · floor · echo 64 B/);
    expect(stderr).toMatch(/round 1\/1 · ws · broadcast to 10 clients/);
    expect(stderr).toMatch(/round 1\/1 · ws · TLS handshakes\/s: 10 clients/);
    expect(stderr).toMatch(/round 1\/1 · ws · echo 64 B over TLS/);
    const tlsMetric = (key: string) => key.startsWith('tls.');
    expect(result.metrics.map((m) => m.key).filter(tlsMetric)).toEqual([
      'tls.connectPerSec',
      'tls.echo.msgsPerSec',
      'tls.echo.cpuUsPerEcho',
    ]);

    expect(result.contenders.map((c) => c.name)).toEqual(['floor', 'ws']);
    for (const contender of result.contenders) {
      expect(contender.available).toBe(true);
      expect(contender.rounds).toHaveLength(1);
      for (const metric of result.metrics) {
        const summary = contender.summary[metric.key];
        // The raw-TCP floor has no TLS: its TLS figures are absent, never made up.
        if (contender.name === 'floor' && tlsMetric(metric.key)) {
          expect(summary, `floor ${metric.key}`).toBeUndefined();
          continue;
        }
        expect(summary, `${contender.name} ${metric.key}`).toBeDefined();
        expect(Number.isFinite(summary!.median), `${contender.name} ${metric.key}`).toBe(true);
        // Idle memory at a smoke test's 20 connections is within the RSS and GC noise, and a smoke
        // burst's server CPU is within /proc's 10 ms tick: only finite.
        // Such a figure can be 0 (in ws too: then there is no ratio to it).
        const noise =
          ['memoryPerConnection', 'heapPerConnection'].includes(metric.key) || metric.key.endsWith('cpuUsPerDelivery');
        if (!noise) {
          expect(summary!.median, `${contender.name} ${metric.key}`).toBeGreaterThan(0);
          expect(summary!.ratio, `${contender.name} ${metric.key} ratio to ws`).toBeDefined();
        }
      }
      // exact delivery: every broadcast and every burst message to every client, once
      const { broadcasts, burst, broadcastClients } = result.config;
      // The plain burst and the chat-JSON burst.
      expect(contender.summary['broadcast.deliveries']?.median).toBe((broadcasts + 2 * burst) * broadcastClients);
      // a 64 B echo round trip carries at least the two 64 B payloads
      expect(contender.summary['echo64.bytesPerEcho']!.median).toBeGreaterThan(128);
    }
    expect(result.contenders.find((c) => c.name === 'ws')!.summary['echo64.msgsPerSec']!.ratio).toBe(1);

    // net did not run here: its goals say so instead of guessing
    expect(result.goals.length).toBeGreaterThan(0);
    for (const goal of result.goals) expect(goal.status).toBe('not available');

    const written = readFileSync(join(outDir, 'latest.json'), 'utf8');
    expect((JSON.parse(written) as BenchResult).date).toBe(result.date);
    const md = readFileSync(join(outDir, 'latest.md'), 'utf8');
    expect(md).toContain('| metric | floor | ws |');
    expect(md).toContain(result.machine.cpu);
    expect(md).toMatch(/Node v\d+/);
    const charted = result.metrics.filter((m) => m.chart);
    expect(charted.length).toBeGreaterThan(5);
    for (const metric of charted) {
      const svg = readFileSync(join(outDir, chartFileName(metric)), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      if (!tlsMetric(metric.key)) expect(svg).toContain('>floor<');
      expect(svg).toContain('>ws<');
    }
  }, 240_000);

  it('measures the compressing contenders beside the plain ones: chat JSON shrinks on the wire, random does not', () => {
    const { stderr, result } = runBench(['--contenders', 'ws,ws+deflate,socket.io-ws+deflate']);
    expect(stderr).toMatch(/round 1\/1 · ws\+deflate · echo 16 KiB chat/);
    expect(stderr).toMatch(/round 1\/1 · socket.io-ws\+deflate · burst of 5 chat broadcasts/);
    expect(result.contenders.map((c) => c.name)).toEqual(['ws', 'ws+deflate', 'socket.io-ws+deflate']);
    const figure = (name: string, key: string) => {
      const value = result.contenders.find((c) => c.name === name)?.summary[key]?.median;
      expect(value, `${name} ${key}`).toBeDefined();
      return value as number;
    };
    for (const contender of result.contenders) {
      for (const metric of result.metrics) {
        expect(Number.isFinite(figure(contender.name, metric.key)), `${contender.name} ${metric.key}`).toBe(true);
      }
      const { broadcasts, burst, broadcastClients } = result.config;
      expect(figure(contender.name, 'broadcast.deliveries')).toBe((broadcasts + 2 * burst) * broadcastClients);
    }
    // 16 KiB of chat JSON each way: compressed it is a fraction; random base64 stays about its size.
    expect(figure('ws+deflate', 'echo16384-chat.bytesPerEcho')).toBeLessThan(
      figure('ws', 'echo16384-chat.bytesPerEcho') / 3,
    );
    expect(figure('ws+deflate', 'echo16384-random.bytesPerEcho')).toBeGreaterThan(
      0.7 * figure('ws', 'echo16384-random.bytesPerEcho'),
    );
    expect(figure('socket.io-ws+deflate', 'echo16384-chat.bytesPerEcho')).toBeLessThan(
      figure('ws', 'echo16384-chat.bytesPerEcho') / 3,
    );
    // The compression goals name net, which did not run here; the broadcast one is stated at
    // 1,000 recipients, more than this run's.
    const compression = result.goals.filter((goal) => /compress/.test(goal.text));
    expect(compression).toHaveLength(4);
    for (const goal of compression.filter((goal) => !/broadcast/.test(goal.text)))
      expect(goal).toMatchObject({ status: 'not available', detail: 'net+deflate did not run' });
    expect(compression.find((goal) => /broadcast/.test(goal.text))).toMatchObject({
      status: 'not available',
      detail: expect.stringContaining('the goal is stated at 1000'),
    });
  }, 240_000);

  it('soak mode, as a user runs it: each contender counts its own echoes, and a loss in the first is reported against it alone', () => {
    const soakOut = mkdtempSync(join(tmpdir(), 'socketlab-soak-'));
    try {
      const clients = 10;
      const durationMs = 2000;
      // `pnpm bench -- --soak` in a fresh process, from the repository root, as the README shows
      // it; the test hook makes the load generator discard floor's first 3 echo replies as if
      // they never arrived (INJECT_LOSS_ENV in src/soak.ts).
      const args = ['--soak', '--smoke', '--contenders', 'floor,ws', '--clients', `${clients}`];
      const { status, stdout, stderr } = spawnSync(
        'pnpm',
        ['--filter', 'bench', 'bench', '--', ...args, '--duration', `${durationMs / 1000}s`, '--out', soakOut],
        {
          cwd: join(benchDir, '..', '..'),
          encoding: 'utf8',
          timeout: 240_000,
          env: { ...process.env, [INJECT_LOSS_ENV]: 'floor:3' },
        },
      );
      const json = JSON.parse(readFileSync(join(soakOut, 'soak.json'), 'utf8')) as BenchResult;
      const md = readFileSync(join(soakOut, 'soak.md'), 'utf8');
      // floor failed (3 lost on purpose), so the run fails.
      expect(status, stderr).toBe(1);
      expect(stderr).toContain(`floor: soak: ${INJECT_LOSS_ENV}: dropping the first 3 echo replies`);
      expect(json.config).toMatchObject({ soakClients: clients, soakMs: durationMs, soakEchoIntervalMs: 100 });
      const soaks = json.soak ?? [];
      // floor runs first: under per-process counters ws would inherit its echoes and its loss.
      expect(soaks.map((s) => s.contender)).toEqual(['floor', 'ws']);
      const intervalMs = json.config.soakEchoIntervalMs;
      for (const soak of soaks) {
        // Echo n of a client is due at its start + n x interval, the start spread over the first
        // interval, and the stop sends whatever has come due: every client sends floor(W / interval)
        // or one more, where W (the worker's run) is at least the duration and at most `seconds`
        // (from the first soakStart sent to the last soakStop answered; 1 ms for the clocks' grain).
        const least = clients * Math.floor(durationMs / intervalMs);
        const most = clients * (Math.floor((soak.seconds * 1000 + 1) / intervalMs) + 1);
        expect(soak.echoesSent, `${soak.contender} echoes sent`).toBeGreaterThanOrEqual(least);
        expect(soak.echoesSent, `${soak.contender} echoes sent`).toBeLessThanOrEqual(most);
        expect(soak.echoesReceived, soak.contender).toBe(soak.echoesSent - soak.lost);
        expect(soak.duplicated, soak.contender).toBe(0);
        expect(soak.outOfOrder, soak.contender).toBe(0);
        expect(soak.broadcastsSent, soak.contender).toBeGreaterThan(0);
        expect(soak.broadcastDeliveries, soak.contender).toBe(soak.broadcastDeliveriesExpected);
        expect(soak.rssSamples.length, soak.contender).toBeGreaterThan(0);
      }
      const [floor, ws] = soaks;
      expect(floor).toMatchObject({ lost: 3, injectedLoss: 3, passed: false });
      expect(ws).toMatchObject({ lost: 0, passed: true });
      expect(ws!.injectedLoss).toBeUndefined();

      // Only what a soak measures: its lines, no empty metric table, no empty goals heading.
      // (pnpm's own lines come before the bench's output and, as it failed, after it.)
      const all = stdout.split('\n');
      const first = all.findIndex((line) => line.startsWith(json.date));
      const after = all.indexOf(`${benchDir}:`);
      const lines = all.slice(first, after === -1 ? undefined : after);
      while (lines.at(-1) === '') lines.pop();
      expect(lines[0]).toMatch(/ · mode soak, \d+ s$/);
      expect(stdout).not.toContain('goals (net adapter)');
      expect(stdout).not.toContain('metric (median');
      expect(lines.slice(1)).toEqual([
        '',
        expect.stringMatching(
          /^soak floor: FAILED · 10 clients, an echo each every 100 ms, \d+ s · echoes \d+\/\d+, lost 3 \(3 dropped on purpose by the test hook\), /,
        ),
        expect.stringMatching(
          /^soak ws: PASSED · 10 clients, an echo each every 100 ms, \d+ s · echoes \d+\/\d+, lost 0, duplicated 0, out of order 0 · /,
        ),
      ]);
      expect(md).toContain(
        `| floor | FAILED | 10 | 100 ms | ${floor!.seconds.toFixed(1)} | ${floor!.echoesSent} | ${floor!.echoesReceived} | 3 (3 by the test hook) | 0 | 0 |`,
      );
      expect(md).toContain(
        `| ws | passed | 10 | 100 ms | ${ws!.seconds.toFixed(1)} | ${ws!.echoesSent} | ${ws!.echoesReceived} | 0 | 0 | 0 |`,
      );
      for (const empty of [
        '| metric |',
        'goal (net adapter)',
        'Echo, TLS echo and broadcast phases',
        'Each cell',
        'round(s)',
      ])
        expect(md).not.toContain(empty);
    } finally {
      rmSync(soakOut, { recursive: true, force: true });
    }
  }, 240_000);
});
