import { describe, expect, it } from 'vitest';
import type { ConnectionEnd } from '../src/connection.js';
import { explainEnd } from '../src/explain.js';
import { transportInfo } from '../src/transports.js';

const websocket = transportInfo('websocket')!;
const ws = transportInfo('ws')!;
const socketio = transportInfo('socketio')!;
const page = 'http://127.0.0.1:5173';
const refused: ConnectionEnd = { code: 1006, reason: '', clean: false, neverOpened: true, timedOut: false };

describe('what the page says about an ended connection', () => {
  it('names the missing subprotocol when the server requires it and the page offered none', () => {
    const { text, error } = explainEnd(refused, {
      transport: websocket,
      url: 'ws://x/',
      protocols: [],
      pageOrigin: page,
    });
    expect(error).toBe(true);
    expect(text).toContain('requires the echo-protocol subprotocol');
    expect(text).toContain('Tick "offer echo-protocol" and connect again');
    expect(text).not.toContain('1006 (abnormal');
  });

  it('does not blame the subprotocol when it was offered, or for a server that does not require it', () => {
    for (const [transport, protocols] of [
      [websocket, ['echo-protocol']],
      [ws, []],
    ] as const) {
      const { text } = explainEnd(refused, { transport, url: 'ws://x/', protocols, pageOrigin: page });
      expect(text).toMatch(/^refused or unreachable: could not connect to ws:\/\/x\//);
      expect(text).not.toContain('subprotocol');
    }
  });

  it("names the page's origin when it is not on the default allowlist", () => {
    const { text } = explainEnd(refused, {
      transport: ws,
      url: 'ws://x/',
      protocols: [],
      pageOrigin: 'http://lan.example:5173',
    });
    expect(text).toContain('origin http://lan.example:5173 is not on');
    expect(text).toContain('--origin http://lan.example:5173');
  });

  it('says the page gave up after the connect timeout', () => {
    const end: ConnectionEnd = { ...refused, code: null, reason: 'no answer within 10 s', timedOut: true };
    const { text, error } = explainEnd(end, { transport: socketio, url: 'http://x/', protocols: [], pageOrigin: page });
    expect(error).toBe(true);
    expect(text).toBe(
      'timed out: no answer within 10 s from http://x/, the page gave up connecting. Check the address and port: is a socket.io server running there?',
    );
  });

  it('shows an orderly close as it is, not as an error; an abnormal one as an error', () => {
    const context = { transport: ws, url: 'ws://x/', protocols: [], pageOrigin: page };
    expect(explainEnd({ ...refused, code: 1000, clean: true, neverOpened: false }, context)).toEqual({
      text: 'closed 1000 (normal closure)',
      error: false,
    });
    expect(explainEnd({ ...refused, code: 1009, reason: 'message too big', neverOpened: false }, context)).toEqual({
      text: 'closed 1009 (message too big): message too big',
      error: true,
    });
  });
});
