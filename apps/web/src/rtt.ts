/**
 * Round-trip time over a connection: an `echo` whose payload marks it as a probe, timed
 * from send to the echo's arrival. Probes travel the same path as chat messages, so the
 * figure is what a user of that transport sees, including the server's JSON handling.
 */
import type { Connection } from './connection.js';

/** The payload of a probe; the chat log leaves echoes carrying it out. */
export interface RttProbe {
  rttProbe: number;
}

export function isRttProbe(payload: unknown): payload is RttProbe {
  return typeof payload === 'object' && payload !== null && typeof (payload as RttProbe).rttProbe === 'number';
}

/** Recent samples in ms, newest last, with the summary the page shows. */
export class RttSamples {
  private readonly samples: number[] = [];

  constructor(private readonly keep = 20) {}

  add(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > this.keep) this.samples.shift();
  }

  get count(): number {
    return this.samples.length;
  }

  get last(): number | undefined {
    return this.samples.at(-1);
  }

  get median(): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  }
}

/**
 * Sends one probe at a time while the connection is open, `intervalMs` apart, and reports
 * each round trip. One outstanding probe at most: a stalled server shows as a missing
 * sample, not as a pile of queued probes.
 */
export function meterRtt(connection: Connection, onSample: (ms: number) => void, intervalMs = 1_000): () => void {
  let sequence = 0;
  let outstanding: { sequence: number; sentAt: number } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const probe = (): void => {
    timer = undefined;
    if (stopped || connection.state !== 'open' || outstanding) return;
    outstanding = { sequence: ++sequence, sentAt: performance.now() };
    connection.send({ type: 'echo', payload: { rttProbe: outstanding.sequence } satisfies RttProbe });
  };
  const unsubscribe = connection.subscribe((event) => {
    if (event.kind === 'state' && event.state === 'open') probe();
    if (event.kind !== 'message' || event.message.type !== 'echo') return;
    const { payload } = event.message;
    if (!isRttProbe(payload) || payload.rttProbe !== outstanding?.sequence) return;
    onSample(performance.now() - outstanding.sentAt);
    outstanding = undefined;
    if (!stopped) timer = setTimeout(probe, intervalMs);
  });
  if (connection.state === 'open') probe();
  return () => {
    stopped = true;
    unsubscribe();
    if (timer !== undefined) clearTimeout(timer);
  };
}
