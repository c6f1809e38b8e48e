import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root (this file is packages/packaging/test/run.ts). */
export const WORKSPACE = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The environment of a command that must behave as on a user's machine: nothing inherited from
 * the pnpm or vitest running this test (npm_* settings, NODE_OPTIONS, the workspace's
 * node_modules/.bin on PATH), so nothing can resolve into the workspace by accident.
 */
export function outsideEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|NODE_OPTIONS$|NODE_PATH$|VITEST|TURBO_)/.test(key)) continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((entry) => !entry.startsWith(WORKSPACE + sep) && entry !== WORKSPACE)
    .join(':');
  return { ...env, ...extra };
}

/** Runs a command to completion, bounded, and fails with its output when it does not exit 0. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? outsideEnv(),
    encoding: 'utf8',
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
  });
  const shown = `${command} ${args.join(' ')} (in ${options.cwd})`;
  if (result.error) throw new Error(`${shown}: ${result.error.message}\n${result.stdout}\n${result.stderr}`);
  if (result.status !== 0) {
    throw new Error(`${shown} exited with ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** The README section under `## <title>`, up to the next `## ` heading. */
export function readmeSection(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const rest = readme.slice(start + title.length + 5);
  const end = rest.indexOf('\n## ');
  return end < 0 ? rest : rest.slice(0, end);
}

/** The fenced code blocks of a Markdown text, in order, with their language. */
export function codeBlocks(markdown: string): { lang: string; code: string }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }));
}

/** The workspace's own TypeScript compiler (the outside project installs none). */
export const tscBin = (): string =>
  join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
