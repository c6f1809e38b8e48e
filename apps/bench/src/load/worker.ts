/**
 * One load-generator process. The benchmark forks one or more of these and drives them
 * over IPC (see protocol.ts); the clients live here, never in the benchmark's own process
 * nor in a server's.
 */

import * as hdr from 'hdr-histogram-js';
import { type BenchClient, createClient } from './clients.js';
import { chatPayload, type EchoContent, echoPayloads, sameShape } from './payloads.js';
import type {
  BroadcastCountsResult,
  ConnectResult,
  DeliveredEvent,
  LoadReply,
  LoadRequest,
  MeasureResult,
  SendBroadcastsResult,
  SoakResult,
} from './protocol.js';
import { nowNs } from './protocol.js';

const clients: BenchClient[] = [];
const SYNC = 'sync';
const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

// Echo loops
let echoing = false;
let measuring = false;
let histogram = newHistogram();
let echoes = 0;
let mismatches = 0;
let bytesAtStart = 0;
let cpuAtStart = process.cpuUsage();
let inFlight = 0;
let drained: (() => void) | undefined;

// Broadcast counting
let received: number[] = [];
const pendingBySeq = new Map<number, { count: number; lastNs: number }>();
let recipients: number[] = [];

/**
 * One contender's soak: its counters, its timers, and the replies still to drop. A new one
 * per soakStart, so no figure carries over from the contender before; the clients' reply
 * handlers hold the run they were set up for, so a late reply can never count for another.
 */
interface SoakRun {
  result: SoakResult;
  timers: NodeJS.Timeout[];
  running: boolean;
  /** Test hook (see injectedReplyLoss in ../soak.ts): soak replies still to discard as if never arrived. */
  dropsLeft: number;
  /** Sends every echo that is due, for every client (the end of the run calls it once more). */
  flush: (() => void)[];
}
let soak: SoakRun | undefined;

function totalWireBytes(): number {
  let total = 0;
  for (const client of clients) total += client.wireBytes();
  return total;
}

async function connect(request: Extract<LoadRequest, { op: 'connect' }>): Promise<ConnectResult> {
  const startNs = nowNs();
  let next = 0;
  let handshakeBytes = 0;
  const opened: BenchClient[] = [];
  const lane = async (): Promise<void> => {
    while (next < request.count) {
      next++;
      const client = createClient(request.kind, request.url, request.ca);
      opened.push(client);
      await client.welcomed;
      handshakeBytes += client.wireBytes();
    }
  };
  const lanes = Array.from({ length: Math.min(request.concurrency, request.count) }, lane);
  try {
    await Promise.all(lanes);
  } catch (error) {
    for (const client of opened) client.close();
    throw error;
  }
  clients.push(...opened);
  return { startNs, endNs: nowNs(), handshakeBytes };
}

async function churn(request: Extract<LoadRequest, { op: 'churn' }>): Promise<ConnectResult> {
  const startNs = nowNs();
  let next = 0;
  let handshakeBytes = 0;
  const lane = async (): Promise<void> => {
    while (next < request.count) {
      next++;
      const client = createClient(request.kind, request.url, request.ca);
      try {
        await client.welcomed;
      } finally {
        handshakeBytes += client.wireBytes();
        client.close();
      }
      await client.closed;
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrency, request.count) }, lane));
  return { startNs, endNs: nowNs(), handshakeBytes };
}

/**
 * At most this many clients sync at once: a socket.io long-polling client opens a second
 * socket for its send, and 10,000 at once would exceed the server's open-file limit.
 */
const SYNC_BATCH = 256;

async function sync(): Promise<void> {
  for (let start = 0; start < clients.length; start += SYNC_BATCH) {
    await Promise.all(clients.slice(start, start + SYNC_BATCH).map(syncOne));
  }
}

function syncOne(client: BenchClient): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Replies to echoes sent before still go to whoever sent them.
    const previous = client.handlers.echo;
    client.handlers.echo = (payload) => {
      if (payload !== SYNC) {
        previous?.(payload);
        return;
      }
      client.handlers.echo = previous;
      resolve();
    };
    client.echo(SYNC);
    client.closed.then(() => reject(new Error(`a client closed while syncing (${client.closeReason})`)));
  });
}

function echoStart(payloadBytes: number, count: number, content: EchoContent): void {
  const payloads = echoPayloads(content, payloadBytes);
  echoing = true;
  clients.slice(0, count).forEach((client, index) => {
    let sentAt = 0;
    // Each client starts at its own place in the cycle.
    let next = index % payloads.length;
    let sent: unknown;
    const send = (): void => {
      inFlight++;
      sentAt = performance.now();
      sent = payloads[next];
      next = (next + 1) % payloads.length;
      client.echo(sent);
    };
    client.handlers.echo = (reply) => {
      inFlight--;
      if (measuring) {
        histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
        echoes++;
        if (!sameShape(reply, sent)) mismatches++;
      }
      if (echoing) send();
      else if (inFlight === 0) drained?.();
    };
    send();
  });
}

function measureStart(): void {
  histogram = newHistogram();
  echoes = 0;
  mismatches = 0;
  bytesAtStart = totalWireBytes();
  cpuAtStart = process.cpuUsage();
  measuring = true;
}

function measureStop(): MeasureResult {
  measuring = false;
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    cpuMicros: cpu.user + cpu.system,
    echoes,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
    wireBytes: totalWireBytes() - bytesAtStart,
    mismatches,
  };
}

async function echoStop(): Promise<void> {
  echoing = false;
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  drained = undefined;
  for (const client of clients) client.handlers.echo = undefined;
}

function expectBroadcasts(): void {
  received = clients.map(() => 0);
  pendingBySeq.clear();
  recipients = [];
  clients.forEach((client, index) => {
    client.handlers.broadcast = (payload) => {
      received[index] = (received[index] ?? 0) + 1;
      const seq = (payload as { seq?: unknown } | null)?.seq;
      if (typeof seq !== 'number') return;
      const entry = pendingBySeq.get(seq) ?? { count: 0, lastNs: 0 };
      entry.count++;
      entry.lastNs = nowNs();
      pendingBySeq.set(seq, entry);
      if (entry.count === clients.length) {
        const event: DeliveredEvent = { event: 'delivered', seq, lastNs: entry.lastNs };
        process.send?.(event);
      }
    };
  });
  const sender = clients[0];
  if (sender) sender.handlers.broadcastResult = (count) => recipients.push(count);
}

function sendBroadcasts(seq: number, count: number, padBytes: number, chat: boolean): SendBroadcastsResult {
  const sender = clients[0];
  if (!sender) throw new Error('no client to send broadcasts from');
  const pad = chat ? chatPayload(padBytes) : 'x'.repeat(padBytes);
  const sentNs = nowNs();
  for (let i = 0; i < count; i++) sender.broadcast({ seq: seq + i, pad });
  return { sentNs };
}

function broadcastCounts(): BroadcastCountsResult {
  return {
    clients: received.length,
    min: received.length ? Math.min(...received) : 0,
    max: received.length ? Math.max(...received) : 0,
    total: received.reduce((a, b) => a + b, 0),
    recipients,
  };
}

function soakStart(intervalMs: number, dropReplies: number): void {
  if (soak?.running) throw new Error('a soak is already running');
  const run: SoakRun = {
    result: { sent: 0, received: 0, duplicated: 0, outOfOrder: 0, dropped: 0 },
    timers: [],
    running: true,
    dropsLeft: dropReplies,
    flush: [],
  };
  soak = run;
  const started = performance.now();
  clients.forEach((client, index) => {
    let expected = 0;
    const seen = new Set<number>();
    client.handlers.echo = (payload) => {
      const seq = (payload as { soak?: unknown } | null)?.soak;
      if (typeof seq !== 'number') return;
      if (run.dropsLeft > 0) {
        run.dropsLeft--;
        run.result.dropped++;
        return;
      }
      if (seen.has(seq)) {
        run.result.duplicated++;
        return;
      }
      seen.add(seq);
      run.result.received++;
      // Arrived after a later one. A gap (seq above expected) is not counted here: that is a
      // loss, counted once as sent minus received, or a reordering, counted when the late one comes.
      if (seq < expected) run.result.outOfOrder++;
      expected = Math.max(expected, seq + 1);
      // Only the recent window matters for duplicates; keep memory flat on our side too.
      if (seen.size > 64) seen.delete(seq - 64);
    };
    // Echo n is due at first + n * interval, first spread over one interval so the load is
    // steady, not pulsed. Due times are absolute: a late timer sends every echo that has come
    // due, so the count is clients x duration / interval however busy this process is
    // (setInterval would drift a little later every time it fires late).
    const first = started + Math.random() * intervalMs;
    let nextSeq = 0;
    const sendDue = (): void => {
      const now = performance.now();
      while (first + nextSeq * intervalMs <= now) {
        run.result.sent++;
        client.echo({ soak: nextSeq++ });
      }
    };
    const tick = (): void => {
      if (!run.running) return;
      sendDue();
      run.timers[index] = setTimeout(tick, first + nextSeq * intervalMs - performance.now());
    };
    run.flush.push(sendDue);
    run.timers[index] = setTimeout(tick, first - started);
  });
}

function soakStop(): void {
  if (!soak?.running) throw new Error('no soak is running');
  // Whatever came due up to now is sent, so no echo of the duration is left out because this
  // process was busy when the stop arrived.
  for (const sendDue of soak.flush) sendDue();
  endSoak(soak);
}

function endSoak(run: SoakRun): void {
  run.running = false;
  for (const timer of run.timers) clearTimeout(timer);
}

function soakResult(): SoakResult {
  if (!soak) throw new Error('no soak has run');
  return { ...soak.result };
}

async function closeAll(): Promise<void> {
  // A soak that ended in an error was never stopped: its clients are going.
  if (soak?.running) endSoak(soak);
  const all = clients.splice(0);
  for (const client of all) client.close();
  await Promise.all(all.map((client) => client.closed));
}

async function handle(request: LoadRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect':
      return connect(request);
    case 'churn':
      return churn(request);
    case 'sync':
      await sync();
      return null;
    case 'echoStart':
      echoStart(request.payloadBytes, request.clients ?? clients.length, request.content ?? 'repeat');
      return null;
    case 'measureStart':
      measureStart();
      return null;
    case 'measureStop':
      return measureStop();
    case 'echoStop':
      await echoStop();
      return null;
    case 'expectBroadcasts':
      expectBroadcasts();
      return null;
    case 'sendBroadcasts':
      return sendBroadcasts(request.seq, request.count, request.padBytes, request.chat ?? false);
    case 'broadcastCounts':
      return broadcastCounts();
    case 'soakStart':
      soakStart(request.intervalMs, request.dropReplies ?? 0);
      return null;
    case 'soakStop':
      soakStop();
      return null;
    case 'soakResult':
      return soakResult();
    case 'closeAll':
      await closeAll();
      return null;
  }
}

process.on('message', (message: { id: number; request: LoadRequest }) => {
  handle(message.request).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies LoadReply),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: String((error as Error)?.stack ?? error),
      } satisfies LoadReply),
  );
});
process.on('disconnect', () => process.exit(0));
