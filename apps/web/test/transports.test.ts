import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultServerUrl } from '@socketlab/contract/client';
import { describe, expect, it } from 'vitest';
import { serverUrlFrom, TRANSPORTS } from '../src/transports.js';
import { appExists, appsDir } from './support/stack.js';

describe("the page's server URLs", () => {
  for (const transport of TRANSPORTS.filter(appExists)) {
    it(`${transport.name}: the default port is the one apps/${transport.app} listens on`, async () => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--conditions=source', join('src', 'main.ts'), '--help'],
        { cwd: join(appsDir, transport.app) },
      );
      expect(stdout).toContain(`(default ${transport.defaultPort}; 0 picks a free one)`);
    }, 30_000);
  }

  it('defaults to 127.0.0.1 on the contract ports, ws:// for WebSocket servers and http:// for socket.io', () => {
    expect(Object.fromEntries(TRANSPORTS.map((transport) => [transport.key, defaultServerUrl(transport)]))).toEqual({
      net: 'ws://127.0.0.1:9000/',
      ws: 'ws://127.0.0.1:6080/',
      websocket: 'ws://127.0.0.1:8080/',
      socketio: 'http://127.0.0.1:3000/',
    });
  });

  it('takes a server URL per transport from the query string', () => {
    const query = new URLSearchParams({ ws: 'ws://127.0.0.1:41234/' });
    const [net, ws] = TRANSPORTS;
    expect(serverUrlFrom(ws!, query)).toBe('ws://127.0.0.1:41234/');
    expect(serverUrlFrom(net!, query)).toBe('ws://127.0.0.1:9000/');
  });

  it('then the URL the page was started with, by app name', () => {
    const [net, ws] = TRANSPORTS;
    const configured = { 'ws-server': 'ws://127.0.0.1:5555/', 'net-server': 'ws://127.0.0.1:7777/' };
    const query = new URLSearchParams({ ws: 'ws://127.0.0.1:41234/' });
    expect(serverUrlFrom(ws!, query, configured)).toBe('ws://127.0.0.1:41234/');
    expect(serverUrlFrom(net!, query, configured)).toBe('ws://127.0.0.1:7777/');
  });
});
