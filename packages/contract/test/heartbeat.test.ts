import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, within } from '../src/index.js';

const INTERVAL = 1_000;

/** The heartbeat's probe, recording what it was asked to do; the heartbeat is what is under test. */
function recordingProbe(): { calls: string[]; ping(conn: string): void; terminate(conn: string): void } {
  const calls: string[] = [];
  return {
    calls,
    ping: (conn) => calls.push(`ping ${conn}`),
    terminate: (conn) => calls.push(`terminate ${conn}`),
  };
}

describe('Heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pings every tracked connection at the first tick, not before', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.track('b');
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL - 1);
    expect(probe.calls).toStrictEqual([]);
    vi.advanceTimersByTime(1);
    expect(probe.calls).toStrictEqual(['ping a', 'ping b']);
    heartbeat.stop();
  });

  it('terminates at the next tick a connection that showed no sign of life, and forgets it', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a']);
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a', 'terminate a']);
    // Terminated once: later ticks neither ping nor terminate it again.
    vi.advanceTimersByTime(3 * INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a', 'terminate a']);
    heartbeat.stop();
  });

  it('alive() between two ticks saves the connection: it is pinged again instead', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.track('b');
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL);
    heartbeat.alive('a'); // a pong or any message from a
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a', 'ping b', 'ping a', 'terminate b']);
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls.slice(4)).toStrictEqual(['terminate a']);
    heartbeat.stop();
  });

  it('alive() before the first tick changes nothing: the first tick still only pings', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.alive('a');
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a']);
    heartbeat.stop();
  });

  it('alive() for a connection it does not track does not start tracking it', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.start();
    heartbeat.alive('stranger');
    vi.advanceTimersByTime(2 * INTERVAL);
    expect(probe.calls).toStrictEqual([]);
    heartbeat.stop();
  });

  it('an untracked connection is neither pinged nor terminated', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.track('b');
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL);
    heartbeat.untrack('a'); // a left while its ping was out
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a', 'ping b', 'terminate b']);
    heartbeat.stop();
  });

  it('a terminate that untracks at once (as leaving the room does) leaves the other connections handled', () => {
    const calls: string[] = [];
    const heartbeat: Heartbeat<string> = new Heartbeat<string>(INTERVAL, {
      ping: (conn) => calls.push(`ping ${conn}`),
      terminate: (conn) => {
        calls.push(`terminate ${conn}`);
        heartbeat.untrack(conn);
      },
    });
    for (const conn of ['a', 'b', 'c']) heartbeat.track(conn);
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL);
    heartbeat.alive('b');
    vi.advanceTimersByTime(INTERVAL);
    expect(calls).toStrictEqual(['ping a', 'ping b', 'ping c', 'terminate a', 'ping b', 'terminate c']);
    heartbeat.stop();
  });

  it('stop() ends the ticks and leaves no timer; start() after stop() ticks again', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.start();
    expect(vi.getTimerCount()).toBe(1);
    heartbeat.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5 * INTERVAL);
    expect(probe.calls).toStrictEqual([]);
    heartbeat.start();
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a']);
    heartbeat.stop();
    heartbeat.stop(); // stopping twice is harmless
    expect(vi.getTimerCount()).toBe(0);
  });

  it('start() twice runs one timer, not two', () => {
    const probe = recordingProbe();
    const heartbeat = new Heartbeat<string>(INTERVAL, probe);
    heartbeat.track('a');
    heartbeat.start();
    heartbeat.start();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(INTERVAL);
    expect(probe.calls).toStrictEqual(['ping a']);
    heartbeat.stop();
  });
});

describe('Heartbeat timer', () => {
  it('does not keep a process alive: a process with only a running heartbeat exits on its own', async () => {
    const script = fileURLToPath(new URL('./fixtures/heartbeat-alone.ts', import.meta.url));
    // The fixture's interval is 60 s: a referenced timer would keep it running long past this limit.
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const code = await within(
        new Promise<number | null>((resolve) => child.once('exit', resolve)),
        20_000,
        'the process with only a heartbeat left to exit',
      );
      expect(output).toBe('heartbeat started\n');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
