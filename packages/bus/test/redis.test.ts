import { type BusEvent, eventually } from '@socketlab/contract';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { createRedisBus, type RedisBus, type RedisBusOptions } from '../src/index.js';
import {
  describeWithRedis,
  freePort,
  recordingLogger,
  startThrowawayRedis,
  TEST_REDIS_URL,
  type ThrowawayRedis,
  uniquePrefix,
} from '../src/testing.js';

/** Collects what a bus delivers and lets a test await one matching event. */
function inbox(bus: RedisBus) {
  const events: BusEvent[] = [];
  const waiters: { match: (event: BusEvent) => boolean; resolve: (event: BusEvent) => void }[] = [];
  bus.subscribe((event) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.match(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  return {
    events,
    next(match: (event: BusEvent) => boolean, timeoutMs = 5_000): Promise<BusEvent> {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching bus event within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          match,
          resolve: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
        });
      });
    },
  };
}

const joinOf = (id: string) => (event: BusEvent) => event.kind === 'join' && event.id === id;

await describeWithRedis('redis bus', () => {
  const buses: RedisBus[] = [];
  let throwaway: ThrowawayRedis | undefined;
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    await throwaway?.stop();
    throwaway = undefined;
  });
  const open = async (options: RedisBusOptions = {}, url = TEST_REDIS_URL) => {
    const bus = createRedisBus(url, { backoff: { min: 50, max: 300 }, ...options });
    buses.push(bus);
    await bus.ready;
    return bus;
  };

  it('delivers what one bus publishes to every bus on the same prefix, in order', async () => {
    const prefix = uniquePrefix('order');
    const a = await open({ prefix });
    const b = await open({ prefix });
    const other = await open({ prefix: uniquePrefix('other') });
    expect(a.channel).toBe(`${prefix}:room`);
    const atB = inbox(b);
    const atA = inbox(a);
    const atOther = inbox(other);
    for (let i = 0; i < 50; i++) a.publish({ kind: 'join', origin: 'ra', id: `c${i}` });
    await atB.next(joinOf('c49'));
    await atA.next(joinOf('c49'));
    expect(atB.events.map((event) => (event as { id: string }).id)).toEqual(
      Array.from({ length: 50 }, (_, i) => `c${i}`),
    );
    // The other prefix is another room: its own publish arrives, none of a's did.
    other.publish({ kind: 'join', origin: 'ro', id: 'mine' });
    await atOther.next(joinOf('mine'));
    expect(atOther.events).toEqual([{ kind: 'join', origin: 'ro', id: 'mine' }]);
  });

  it('carries binary payloads as bytes', async () => {
    const prefix = uniquePrefix('binary');
    const a = await open({ prefix });
    const atB = inbox(await open({ prefix }));
    const bytes = Buffer.from([0, 1, 2, 128, 255]);
    a.publish({ kind: 'broadcast', origin: 'ra', from: 'x', payload: { file: bytes, parts: [new Uint8Array([7])] } });
    const event = await atB.next((e) => e.kind === 'broadcast');
    const payload = (event as { payload: { file: unknown; parts: unknown[] } }).payload;
    expect(Buffer.isBuffer(payload.file)).toBe(true);
    expect(payload.file).toEqual(bytes);
    expect(payload.parts[0]).toEqual(Buffer.from([7]));
  });

  it('refuses an unreachable URL at start within a few seconds, with the URL in the error', async () => {
    const port = await freePort();
    const started = Date.now();
    const bus = createRedisBus(`redis://127.0.0.1:${port}`, { connectTimeout: 3_000 });
    await expect(bus.ready).rejects.toThrow(`cannot connect to Redis at redis://127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(4_000);
    await bus.close();
  });

  it('refuses a URL that is not a redis URL', () => {
    expect(() => createRedisBus('http://127.0.0.1:6379')).toThrow(TypeError);
    expect(() => createRedisBus('not a url')).toThrow(/not a URL/);
  });

  it('reconnects and re-subscribes after its connections are killed, and says so in the log', async () => {
    const prefix = uniquePrefix('kill');
    const name = `${prefix}-victim`;
    const logger = recordingLogger();
    const victim = await open({ prefix, connectionName: name, logger });
    const peer = await open({ prefix });
    const atVictim = inbox(victim);
    const admin = new Redis(TEST_REDIS_URL);
    try {
      const list = await admin.client('LIST');
      const ids = String(list)
        .split('\n')
        .filter((line) => line.includes(` name=${name}-`))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
      expect(ids).toHaveLength(2);
      for (const id of ids) await admin.client('KILL', 'ID', id!);
    } finally {
      admin.disconnect();
    }
    await eventually(() => logger.has('redis connection lost'), 5_000, 'the outage to be logged');
    // Delivery resumes once the subscriber is back: publish until one arrives.
    let n = 0;
    await eventually(
      async () => {
        peer.publish({ kind: 'join', origin: 'rp', id: `after-${++n}` });
        return atVictim.events.length > 0;
      },
      10_000,
      'delivery after the reconnect',
      100,
    );
    await eventually(() => victim.connected && logger.has('redis connection restored'), 5_000, 'the recovery log');
    // Its own publishing works again too.
    victim.publish({ kind: 'leave', origin: 'rv', id: 'back' });
    await atVictim.next((e) => e.kind === 'leave' && e.id === 'back');
  });

  it('drops events while Redis is down, never crashes, and resumes when Redis is back', async () => {
    throwaway = await startThrowawayRedis();
    const prefix = uniquePrefix('restart');
    const logger = recordingLogger();
    const a = await open({ prefix, logger }, throwaway.url);
    const atB = inbox(await open({ prefix }, throwaway.url));
    a.publish({ kind: 'join', origin: 'ra', id: 'before' });
    await atB.next(joinOf('before'));

    await throwaway.stop();
    await eventually(() => !a.connected, 5_000, 'the bus to notice Redis is gone');
    const droppedBefore = a.dropped;
    a.publish({ kind: 'join', origin: 'ra', id: 'during' });
    // Dropped at once if the publisher already knows, or when its in-flight publish is rejected.
    await eventually(
      () => a.dropped === droppedBefore + 1,
      5_000,
      'the event published during the outage to count as dropped',
    );
    await eventually(() => logger.has('redis connection lost'), 5_000, 'the outage to be logged');

    await throwaway.start();
    await eventually(() => a.connected, 10_000, 'the bus to reconnect');
    let n = 0;
    await eventually(
      async () => {
        a.publish({ kind: 'join', origin: 'ra', id: `after-${++n}` });
        return atB.events.some((e) => e.kind === 'join' && e.id.startsWith('after-'));
      },
      10_000,
      'delivery after the restart',
      100,
    );
    // What was published during the outage is gone for good, not replayed late.
    expect(atB.events.some(joinOf('during'))).toBe(false);
  });
});
