import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../src/report.js';
import { chartFileName } from '../src/report.js';

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

    expect(result.contenders.map((c) => c.name)).toEqual(['floor', 'ws']);
    for (const contender of result.contenders) {
      expect(contender.available).toBe(true);
      expect(contender.rounds).toHaveLength(1);
      for (const metric of result.metrics) {
        const summary = contender.summary[metric.key];
        expect(summary, `${contender.name} ${metric.key}`).toBeDefined();
        expect(Number.isFinite(summary!.median), `${contender.name} ${metric.key}`).toBe(true);
        // Idle memory at a smoke test's 20 connections is within the RSS and GC noise: only finite.
        if (metric.key !== 'memoryPerConnection' && metric.key !== 'heapPerConnection')
          expect(summary!.median, `${contender.name} ${metric.key}`).toBeGreaterThan(0);
        expect(summary!.ratio, `${contender.name} ${metric.key} ratio to ws`).toBeDefined();
      }
      // exact delivery: every broadcast and every burst message to every client, once
      const { broadcasts, burst, broadcastClients } = result.config;
      expect(contender.summary['broadcast.deliveries']?.median).toBe((broadcasts + burst) * broadcastClients);
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
      expect(svg).toContain('>floor<');
      expect(svg).toContain('>ws<');
    }
  }, 240_000);

  it('soak mode: no echo or broadcast lost, duplicated or reordered', () => {
    const { result } = runBench(['--soak', '--contenders', 'floor']);
    const [soak] = result.soak ?? [];
    expect(soak).toBeDefined();
    expect(soak!.echoesSent).toBeGreaterThan(0);
    expect(soak!.lost).toBe(0);
    expect(soak!.duplicated).toBe(0);
    expect(soak!.outOfOrder).toBe(0);
    expect(soak!.broadcastsSent).toBeGreaterThan(0);
    expect(soak!.broadcastDeliveries).toBe(soak!.broadcastDeliveriesExpected);
    expect(soak!.rssSamples.length).toBeGreaterThan(0);
    expect(existsSync(join(outDir, 'soak.json'))).toBe(true);
  }, 240_000);
});
