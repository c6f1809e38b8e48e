import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CloseCode, type RealtimeClient, within } from '@socketlab/contract';
import { adapter as ws } from '@socketlab/ws';
import { afterEach, describe, expect, it } from 'vitest';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const readme = readFileSync(join(packageDir, '..', '..', 'README.md'), 'utf8');

/** The README's JavaScript examples in its attach section, in order. */
function attachExamples(): string[] {
  const start = readme.indexOf('## TLS and attaching to your own server');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

/**
 * Runs one README example as its own process (a module next to this package's node_modules,
 * where `@socketlab/ws` and `express` resolve as in an app) and waits for the line it prints.
 */
function runExample(code: string, name: string): Promise<{ child: ChildProcess; appUrl: string; realtimeUrl: string }> {
  const file = join(packageDir, 'test', `.readme-${name}.mjs`);
  writeFileSync(file, code);
  cleanups.push(() => rmSync(file, { force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', file], {
    cwd: packageDir,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return within(
    new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /^app on (\S+), realtime on (\S+)$/.exec(line);
        if (match) resolve({ child, appUrl: match[1]!, realtimeUrl: match[2]! });
      });
      child.once('exit', (code) => reject(new Error(`the ${name} example exited with ${code}\n${stderr}`)));
    }),
    30_000,
    `the ${name} example's line`,
  );
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

const cleanups: (() => void)[] = [];
const clients: RealtimeClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.terminate();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('the README attach examples, run as written', () => {
  it('has the node:http and the Express example', () => {
    const examples = attachExamples();
    expect(examples).toHaveLength(2);
    expect(examples[0]).toContain("from 'node:http'");
    expect(examples[1]).toContain("from 'express'");
  });

  it('node:http: the app answers its requests, the adapter its upgrades on /live', async () => {
    const { appUrl, realtimeUrl } = await runExample(attachExamples()[0]!, 'node-http');
    expect(realtimeUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/live$/);
    expect(await get(`${appUrl}page`)).toStrictEqual({ status: 200, body: 'hello from /page\n' });
    const client = await ws.connect(realtimeUrl);
    clients.push(client);
    expect(await client.receive()).toMatchObject({ type: 'welcome' });
    client.send({ type: 'echo', payload: 'from the README' });
    expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'from the README' });
  }, 60_000);

  it('Express: its routes answer, the contract is on /live, SIGTERM closes with 1001 and exits 0', async () => {
    const { child, appUrl, realtimeUrl } = await runExample(attachExamples()[1]!, 'express');
    expect(await get(`${appUrl}health`)).toStrictEqual({ status: 200, body: '{"ok":true}' });
    const client = await ws.connect(realtimeUrl);
    clients.push(client);
    expect(await client.receive()).toMatchObject({ type: 'welcome' });
    client.send({ type: 'echo', payload: { express: true } });
    expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { express: true } });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect((await within(client.closed, 10_000, 'the client to see the shutdown')).code).toBe(CloseCode.goingAway);
    expect(await within(exited, 10_000, 'the Express example to exit')).toBe(0);
  }, 60_000);
});
