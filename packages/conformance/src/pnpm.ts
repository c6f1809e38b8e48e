import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { within } from '@socketlab/contract';

/**
 * A command as a user types it at the repository root (`pnpm --filter ws-server start -- --help`):
 * pnpm itself in a fresh process, so pnpm's own handling of `--` and of signals is what is tested.
 */
export interface PnpmRun {
  child: ChildProcessWithoutNullStreams;
  /** Everything on stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line that matches, failing after `ms` with what was seen. */
  line(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnPnpm(root: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): PnpmRun {
  const child = spawn('pnpm', [...args], { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = (pattern: RegExp, ms: number): Promise<RegExpExecArray> => {
    let wake = (): void => {};
    const found = new Promise<RegExpExecArray>((resolve, reject) => {
      wake = () => {
        for (const text of lines) {
          const match = pattern.exec(text);
          if (match) return resolve(match);
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`pnpm ${args.join(' ')} exited before printing ${pattern}\n${stdout}\n${stderr}`));
        }
      };
      waiters.add(wake);
      child.once('exit', () => setImmediate(wake));
      wake();
    });
    return within(found, ms, `pnpm ${args.join(' ')}: a line matching ${pattern}\n${stdout}\n${stderr}`).finally(() =>
      waiters.delete(wake),
    );
  };
  return { child, stdout: () => stdout, stderr: () => stderr, line, exited };
}

/** Runs a pnpm command to its end (bounded: killed after `ms`). */
export async function runPnpm(
  root: string,
  args: readonly string[],
  ms = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = spawnPnpm(root, args);
  try {
    const { code } = await within(run.exited, ms, `pnpm ${args.join(' ')} to exit`);
    return { code, stdout: run.stdout(), stderr: run.stderr() };
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
}
