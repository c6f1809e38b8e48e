import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The code block right after `<!-- test: NAME -->` in the README. */
function readmeBlock(name: string): string {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- test: ${name} -->\\n\`\`\`ts\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!match) throw new Error(`README.md has no block marked <!-- test: ${name} -->`);
  return match[1]!;
}

describe('README: the plain echo server on Connection', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0)) fn();
  });

  it('runs as written and echoes text and binary', async () => {
    const block = readmeBlock('echo-server');
    // Inside the package, so that `@socketlab/net` resolves to it as it would once installed.
    const dir = mkdtempSync(join(packageDir, 'test', 'readme-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'echo.ts'), block);
    const child: ChildProcess = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'echo.ts'], {
      cwd: dir,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanup.push(() => child.kill());
    let out = '';
    const port = await within(
      new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const found = /port: (\d+)/.exec(out);
          if (found) resolve(Number(found[1]));
        });
        child.once('exit', (code) => reject(new Error(`the snippet exited with ${code}: ${out}`)));
      }),
      20_000,
      'the README echo server to listen',
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await within(once(ws, 'open'), 5_000, 'the upgrade');
    const replies: (string | Buffer)[] = [];
    const two = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        replies.push(isBinary ? data : data.toString());
        if (replies.length === 2) resolve();
      }),
    );
    ws.send('héllo');
    ws.send(Buffer.from([1, 2, 3]));
    await within(two, 5_000, 'both echoes');
    expect(replies).toStrictEqual(['héllo', Buffer.from([1, 2, 3])]);
    ws.close(1000);
    const [code] = (await within(once(ws, 'close'), 5_000, 'the close')) as [number];
    expect(code).toBe(1000);
  });
});
