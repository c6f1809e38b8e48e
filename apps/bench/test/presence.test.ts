import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithRedis, TEST_REDIS_URL } from '@socketlab/bus/testing';
import { afterAll, expect, it } from 'vitest';

const repoDir = dirname(dirname(dirname(dirname(fileURLToPath(import.meta.url)))));
const outDir = mkdtempSync(join(tmpdir(), 'socketlab-presence-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

await describeWithRedis('presence cost and kill -9 reaction, smoke size', () => {
  it('reports the storm rate, idle memory per connection and when the last leave came after each kill', () => {
    const run = spawnSync(
      'pnpm',
      [
        '--silent',
        '--filter',
        'bench',
        'presence',
        '--',
        '--smoke',
        '--contenders',
        'ws',
        '--redis-url',
        TEST_REDIS_URL,
        '--json',
        '--out',
        outDir,
      ],
      { cwd: repoDir, encoding: 'utf8', timeout: 200_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      presenceTimeout: string;
      rounds: number;
      rows: { contender: string; stormPerSec: number; memoryPerConnection: number; lastLeaveMs: number[] }[];
    };
    expect(report.presenceTimeout).toBe('1s');
    const [row] = report.rows;
    expect(row?.contender).toBe('ws');
    expect(row!.stormPerSec).toBeGreaterThan(0);
    expect(Number.isFinite(row!.memoryPerConnection)).toBe(true);
    expect(row!.lastLeaveMs).toHaveLength(report.rounds);
    // CONTRACT.md section 5: every leave within the presence timeout (1 s here).
    for (const ms of row!.lastLeaveMs) expect(ms).toBeLessThanOrEqual(1_000);
    expect(readFileSync(join(outDir, 'presence.md'), 'utf8')).toMatch(/^\| ws \| [\d,.k]+ \|/m);
  }, 220_000);
});
