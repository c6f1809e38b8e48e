import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithRedis, TEST_REDIS_URL } from '@socketlab/bus/testing';
import { afterAll, expect, it } from 'vitest';

const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
const outDir = mkdtempSync(join(tmpdir(), 'socketlab-cross-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

await describeWithRedis('cross-process broadcast latency, smoke size', () => {
  it('times local and through-Redis delivery for ws and net, every delivery counted', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=source',
        'src/cross-process.ts',
        '--contenders',
        'ws,net',
        '--receivers',
        '4',
        '--broadcasts',
        '10',
        '--redis-url',
        TEST_REDIS_URL,
        '--json',
        '--out',
        outDir,
      ],
      { cwd: benchDir, encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const { rows } = JSON.parse(run.stdout) as { rows: Record<string, number | string>[] };
    expect(rows.map((r) => r.contender)).toEqual(['ws', 'net']);
    for (const row of rows) {
      expect(row.deliveries).toBe(10 * 4);
      for (const key of ['localP50Ms', 'localP99Ms', 'remoteP50Ms', 'remoteP99Ms']) {
        expect(row[key] as number, `${row.contender} ${key}`).toBeGreaterThan(0);
      }
    }
    expect(readFileSync(join(outDir, 'cross-process.md'), 'utf8')).toMatch(/^\| ws \|.*\n\| net \|/m);
    const svg = readFileSync(join(outDir, 'cross-process.svg'), 'utf8');
    expect(svg).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    expect(svg).toContain('>through Redis p50<');
    expect(svg.match(/<rect x="150"/g)).toHaveLength(2 * 4);
  }, 150_000);
});
