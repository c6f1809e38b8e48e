import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { READY_PATTERN } from './app.js';
import { WATCH_PARENT_ENV } from './parent.js';

export { onParentGone, WATCH_PARENT_ENV } from './parent.js';

export interface ServerProcess {
  name: string;
  adapter: string;
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote on stderr so far (its structured logs); '' with `onOutput`. */
  stderr(): string;
  /** Sends a signal and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
}

export interface StartOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  entry?: string;
  /**
   * Every line the process writes on stderr, and on stdout after its ready line, as it comes;
   * then nothing is kept in memory (a long-running parent streams, it does not buffer).
   */
  onOutput?: (line: string) => void;
  /**
   * Its own process group, so a terminal's Ctrl-C reaches it only through the parent (one
   * signal, not the group's and the parent's); it stops when the parent is gone (parent.ts).
   */
  detached?: boolean;
}

/**
 * Starts one server app (apps/<name>) from its TypeScript sources in its own process
 * and resolves once it printed its ready line. Used by the root `pnpm start`, the app
 * tests and the benchmark, so all three start servers the same way a user does.
 */
export function startServerProcess(
  appDir: string,
  args: readonly string[] = [],
  options: StartOptions = {},
): Promise<ServerProcess> {
  // The playground page's dev server has its entry elsewhere (apps/web/scripts/dev.ts).
  const entry = join(appDir, options.entry ?? join('src', 'main.ts'));
  if (!existsSync(entry)) return Promise.reject(new Error(`no server app at ${appDir} (missing ${entry})`));
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', entry, ...args], {
    cwd: appDir,
    env: { ...process.env, ...(options.detached ? { [WATCH_PARENT_ENV]: '1' } : {}), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const { onOutput } = options;
  let stderr = '';
  if (onOutput) {
    createInterface({ input: child.stderr! }).on('line', onOutput);
  } else {
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
  }
  let ready = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeoutMs = options.timeoutMs ?? 60_000;

  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${appDir}: no ready line within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${appDir} exited with ${code} before it was ready\n${stderr}`));
    });
    lines.on('line', (line) => {
      if (ready) return onOutput?.(line);
      const match = READY_PATTERN.exec(line);
      if (!match) return onOutput?.(line);
      ready = true;
      clearTimeout(timer);
      const [, name = '', adapter = '', url = ''] = match;
      resolve({
        name,
        adapter,
        url,
        port: Number(new URL(url).port),
        child,
        stderr: () => stderr,
        exited,
        stop: (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
