import { describe, expect, it } from 'vitest';
import { checkUpgrade, DEFAULTS } from '../src/index.js';

const policy = { allowedOrigins: DEFAULTS.allowedOrigins, requireProtocol: false };
const good = {
  method: 'GET',
  httpVersion: '1.1',
  headers: {
    host: '127.0.0.1:9',
    upgrade: 'websocket',
    connection: 'keep-alive, Upgrade',
    'sec-websocket-version': '13',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  },
};
const withHeaders = (headers: Record<string, string | undefined>) => ({
  ...good,
  headers: { ...good.headers, ...headers },
});

describe('checkUpgrade', () => {
  it('accepts a valid request with no subprotocol', () => {
    expect(checkUpgrade(good, policy)).toEqual({ ok: true, protocol: undefined, key: 'dGhlIHNhbXBsZSBub25jZQ==' });
  });
  it('selects echo-protocol among offered ones', () => {
    const verdict = checkUpgrade(withHeaders({ 'sec-websocket-protocol': 'chat, echo-protocol' }), policy);
    expect(verdict).toMatchObject({ ok: true, protocol: 'echo-protocol' });
  });
  it.each([
    ['plain HTTP', { ...good, headers: {} }, 426],
    ['POST', { ...good, method: 'POST' }, 405],
    ['HTTP/1.0', { ...good, httpVersion: '1.0' }, 400],
    ['no Host', withHeaders({ host: undefined }), 400],
    ['Upgrade: h2c', withHeaders({ upgrade: 'h2c' }), 400],
    ['no Connection: Upgrade', withHeaders({ connection: 'keep-alive' }), 400],
    ['version 8', withHeaders({ 'sec-websocket-version': '8' }), 426],
    ['no version', withHeaders({ 'sec-websocket-version': undefined }), 426],
    ['no key', withHeaders({ 'sec-websocket-key': undefined }), 400],
    ['short key', withHeaders({ 'sec-websocket-key': 'AAAA' }), 400],
    ['foreign origin', withHeaders({ origin: 'http://evil.com' }), 403],
    ['other subprotocols only', withHeaders({ 'sec-websocket-protocol': 'chat' }), 400],
  ])('refuses %s', (_name, request, status) => {
    expect(checkUpgrade(request, policy)).toMatchObject({ ok: false, status });
  });
  it('426 for a wrong version names version 13', () => {
    expect(checkUpgrade(withHeaders({ 'sec-websocket-version': '8' }), policy)).toMatchObject({
      headers: { 'Sec-WebSocket-Version': '13' },
    });
  });
  it('requireProtocol refuses a client that offers none', () => {
    expect(checkUpgrade(good, { ...policy, requireProtocol: true })).toMatchObject({ ok: false, status: 400 });
  });
});
