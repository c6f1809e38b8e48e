import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket, connect as tcpConnect } from 'node:net';
import { within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../src/receiver.js';
import { Sender } from '../src/sender.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const step of cleanup.splice(0)) step();
});

/** A loopback pair: `near` gets a server-role Sender, `far` decodes what arrives with a client-role Receiver. */
async function pair(): Promise<{ near: Socket; texts: string[]; arrived(count: number): Promise<void> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = tcpConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  const [near] = await accepted;
  cleanup.push(() => {
    near.destroy();
    far.destroy();
    server.close();
  });
  const texts: string[] = [];
  let notify = (): void => {};
  const receiver = new Receiver(
    { role: 'client', maxPayload: 1 << 22 },
    {
      onText: (text) => texts.push(text),
      onBinary: () => texts.push('<binary>'),
      onPing: () => {},
      onPong: () => {},
      onClose: () => {},
      onError: (error) => texts.push(`<error ${error.code}>`),
    },
  );
  far.on('data', (chunk: Buffer) => {
    receiver.push(chunk);
    notify();
  });
  const arrived = (count: number): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        notify = () => {
          if (texts.length >= count) resolve();
        };
        notify();
      }),
      5_000,
      `${count} frames to arrive`,
    );
  return { near, texts, arrived };
}

describe('sender: strings framed in one pass through the shared scratch buffer', () => {
  it('keeps every frame intact when the socket holds the scratch (corked, then backed up), at every length class', async () => {
    const { near, texts, arrived } = await pair();
    const sender = new Sender(near, false);
    const messages = [
      'a'.repeat(10),
      'é✓'.repeat(60),
      'b'.repeat(300),
      'c'.repeat(70_000), // 16-bit length limit passed: 64-bit length header
      '𝄞'.repeat(20_000), // surrogate pairs: 4 UTF-8 bytes per two UTF-16 units
      'd'.repeat(65 * 1024), // over the one-pass limit: header + string in a writev
    ];
    // Corked: the writes queue; the first frame leaves the scratch with the socket, and the
    // rest take the other paths while something is queued.
    near.cork();
    for (const message of messages) sender.send(0x1, message);
    near.uncork();
    // Not corked, many at once: the kernel takes only part, and the socket backs up.
    for (let i = 0; i < 50; i++) sender.send(0x1, `${i}:${'e'.repeat(40_000)}`);
    await arrived(messages.length + 50);
    expect(texts.slice(0, messages.length)).toStrictEqual(messages);
    expect(texts.slice(messages.length)).toStrictEqual(
      Array.from({ length: 50 }, (_, i) => `${i}:${'e'.repeat(40_000)}`),
    );
  });

  it('never lets one socket overwrite a frame another socket still holds', async () => {
    const a = await pair();
    const b = await pair();
    const senderA = new Sender(a.near, false);
    const senderB = new Sender(b.near, false);
    a.near.cork();
    senderA.send(0x1, 'held by A until it uncorks');
    senderB.send(0x1, 'sent by B in the meantime, through the same scratch');
    a.near.uncork();
    await a.arrived(1);
    await b.arrived(1);
    expect(a.texts).toStrictEqual(['held by A until it uncorks']);
    expect(b.texts).toStrictEqual(['sent by B in the meantime, through the same scratch']);
  });
});
