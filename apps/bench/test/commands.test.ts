import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** `pnpm bench` at the repository root, exactly as typed, in a fresh pnpm (no benchmark runs). */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pnpm = (args: string[]) => spawnSync('pnpm', args, { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('pnpm bench, as typed', () => {
  it.each([
    [['bench', '--help']],
    [['bench', '--', '--help']],
  ])('pnpm %j prints the benchmark usage (its flags reach the benchmark, not turbo)', (args) => {
    const run = pnpm(args);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Usage: pnpm bench [--] [flags]');
  }, 130_000);
  it('refuses a bad flag value with the benchmark’s own line', () => {
    const run = pnpm(['bench', '--rounds', '0']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('bench: --rounds must be a positive integer, got "0"');
  }, 130_000);
});
