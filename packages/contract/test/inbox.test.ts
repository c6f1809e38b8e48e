import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_RECEIVE_TIMEOUT, Inbox } from '../src/index.js';

/** Whether a promise has settled, after the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

describe('Inbox', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out queued messages oldest first', async () => {
    const inbox = new Inbox();
    inbox.push({ type: 'welcome', id: 'A', members: [] });
    inbox.push({ type: 'join', id: 'B' });
    inbox.push({ type: 'echo', payload: 1 });
    expect(await inbox.take()).toStrictEqual({ type: 'welcome', id: 'A', members: [] });
    expect(await inbox.take()).toStrictEqual({ type: 'join', id: 'B' });
    expect(await inbox.take()).toStrictEqual({ type: 'echo', payload: 1 });
    expect(inbox.pending()).toStrictEqual([]);
  });

  it('a typed take removes the first message of that type and leaves the rest in order', async () => {
    const inbox = new Inbox();
    inbox.push({ type: 'join', id: 'B' });
    inbox.push({ type: 'echo', payload: 1 });
    inbox.push({ type: 'join', id: 'C' });
    inbox.push({ type: 'echo', payload: 2 });
    expect(await inbox.take('echo')).toStrictEqual({ type: 'echo', payload: 1 });
    expect(inbox.pending()).toStrictEqual([
      { type: 'join', id: 'B' },
      { type: 'join', id: 'C' },
      { type: 'echo', payload: 2 },
    ]);
    expect(await inbox.take('echo')).toStrictEqual({ type: 'echo', payload: 2 });
    expect(await inbox.take()).toStrictEqual({ type: 'join', id: 'B' });
    expect(await inbox.take()).toStrictEqual({ type: 'join', id: 'C' });
  });

  it('nothing is lost between two awaits: messages that arrive while no one waits are kept', async () => {
    const inbox = new Inbox();
    const first = inbox.take('echo');
    // Both arrive in one burst, before the test gets to its second take.
    inbox.push({ type: 'echo', payload: 1 });
    inbox.push({ type: 'echo', payload: 2 });
    expect(await first).toStrictEqual({ type: 'echo', payload: 1 });
    expect(inbox.pending()).toStrictEqual([{ type: 'echo', payload: 2 }]);
    expect(await inbox.take('echo')).toStrictEqual({ type: 'echo', payload: 2 });
  });

  it('a waiter gets the first matching message; others go to the queue or to their own waiter', async () => {
    const inbox = new Inbox();
    const echo = inbox.take('echo');
    const join = inbox.take('join');
    const any = inbox.take();
    inbox.push({ type: 'leave', id: 'X' }); // the untyped waiter is the only one that accepts it
    inbox.push({ type: 'join', id: 'B' });
    inbox.push({ type: 'binary', data: new Uint8Array([1]) }); // nobody waits for it any more
    inbox.push({ type: 'echo', payload: 'e' });
    expect(await any).toStrictEqual({ type: 'leave', id: 'X' });
    expect(await join).toStrictEqual({ type: 'join', id: 'B' });
    expect(await echo).toStrictEqual({ type: 'echo', payload: 'e' });
    expect(inbox.pending()).toStrictEqual([{ type: 'binary', data: new Uint8Array([1]) }]);
  });

  it('two waiters for one type are served in the order they started waiting', async () => {
    const inbox = new Inbox();
    const first = inbox.take('echo');
    const second = inbox.take('echo');
    inbox.push({ type: 'echo', payload: 1 });
    inbox.push({ type: 'echo', payload: 2 });
    expect(await first).toStrictEqual({ type: 'echo', payload: 1 });
    expect(await second).toStrictEqual({ type: 'echo', payload: 2 });
    expect(inbox.pending()).toStrictEqual([]);
  });

  it('a take times out after its limit with a message naming the type and what is queued', async () => {
    vi.useFakeTimers();
    const inbox = new Inbox();
    inbox.push({ type: 'join', id: 'B' });
    inbox.push({ type: 'leave', id: 'B' });
    const take = inbox.take('echo', 200);
    await vi.advanceTimersByTimeAsync(199);
    expect(await settled(take)).toBe(false);
    const rejected = expect(take).rejects.toThrow('no echo arrived within 200 ms (queued: join, leave)');
    await vi.advanceTimersByTimeAsync(1);
    await rejected;
  });

  it('an untyped take on an empty inbox times out after the default limit, saying nothing was queued', async () => {
    vi.useFakeTimers();
    const take = new Inbox().take();
    await vi.advanceTimersByTimeAsync(DEFAULT_RECEIVE_TIMEOUT - 1);
    expect(await settled(take)).toBe(false);
    const rejected = expect(take).rejects.toThrow(
      `no message arrived within ${DEFAULT_RECEIVE_TIMEOUT} ms (queued: nothing)`,
    );
    await vi.advanceTimersByTimeAsync(1);
    await rejected;
  });

  it('a message that comes after a take timed out is kept for the next take, not given to the dead waiter', async () => {
    vi.useFakeTimers();
    const inbox = new Inbox();
    const late = inbox.take('echo', 50);
    const rejected = expect(late).rejects.toThrow('no echo arrived within 50 ms');
    await vi.advanceTimersByTimeAsync(50);
    await rejected;
    inbox.push({ type: 'echo', payload: 'late' });
    expect(inbox.pending()).toStrictEqual([{ type: 'echo', payload: 'late' }]);
    expect(await inbox.take('echo')).toStrictEqual({ type: 'echo', payload: 'late' });
  });

  it('a satisfied take leaves no timer behind', async () => {
    vi.useFakeTimers();
    const inbox = new Inbox();
    const take = inbox.take('echo', 1_000);
    expect(vi.getTimerCount()).toBe(1);
    inbox.push({ type: 'echo', payload: 1 });
    await take;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close rejects every pending take with the close code and reason, and clears their timers', async () => {
    vi.useFakeTimers();
    const inbox = new Inbox();
    const echo = inbox.take('echo');
    const any = inbox.take();
    inbox.close({ code: 1001, reason: 'server shutting down' });
    await Promise.all([
      expect(echo).rejects.toThrow('connection closed (code 1001, "server shutting down") before echo arrived'),
      expect(any).rejects.toThrow('connection closed (code 1001, "server shutting down") before a message arrived'),
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('after close, a take still gets what was queued, then fails at once with the close', async () => {
    const inbox = new Inbox();
    inbox.push({ type: 'echo', payload: 1 });
    inbox.close({ code: 1006, reason: '' });
    expect(await inbox.take('echo')).toStrictEqual({ type: 'echo', payload: 1 });
    // No reason: the message leaves the quotes out. And it fails without waiting for a timer.
    await expect(inbox.take('echo', 60_000)).rejects.toThrow('connection closed (code 1006) before echo arrived');
  });

  it('the first close wins: a later close does not change the reported code', async () => {
    const inbox = new Inbox();
    inbox.close({ code: 1000, reason: 'bye' });
    inbox.close({ code: 1006, reason: '' });
    await expect(inbox.take()).rejects.toThrow('connection closed (code 1000, "bye") before a message arrived');
  });
});
