import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../src/index.js';
import { recordingLogger } from '../src/testing.js';

describe('in-process bus', () => {
  it('delivers in publish order, after the publisher returns, to every subscriber', async () => {
    const bus = createInProcessBus();
    const seen: string[] = [];
    bus.subscribe((event) => seen.push(`first:${event.kind}`));
    const unsubscribe = bus.subscribe((event) => seen.push(`second:${event.kind}`));
    bus.publish({ kind: 'join', origin: 'r', id: 'a' });
    bus.publish({ kind: 'leave', origin: 'r', id: 'a' });
    expect(seen).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toEqual(['first:join', 'second:join', 'first:leave', 'second:leave']);
    unsubscribe();
    bus.publish({ kind: 'join', origin: 'r', id: 'b' });
    await Promise.resolve();
    expect(seen.at(-1)).toBe('first:join');
    expect(seen).toHaveLength(5);
  });

  it('logs a throwing handler and still delivers to the others', async () => {
    const logger = recordingLogger();
    const bus = createInProcessBus({ logger });
    const seen: string[] = [];
    bus.subscribe(() => {
      throw new Error('handler bug');
    });
    bus.subscribe((event) => seen.push(event.kind));
    bus.publish({ kind: 'join', origin: 'r', id: 'a' });
    await Promise.resolve();
    expect(seen).toEqual(['join']);
    expect(logger.has('bus handler failed')).toBe(true);
  });
});
