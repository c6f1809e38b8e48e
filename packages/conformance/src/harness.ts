import type {
  Adapter,
  ConnectionId,
  ConnectOptions,
  RealtimeClient,
  RealtimeServer,
  ServerOptions,
} from '@socketlab/contract';
import { afterEach } from 'vitest';
import { RawPeer } from './raw.js';

export interface Joined {
  client: RealtimeClient;
  id: ConnectionId;
}

/**
 * Per-test fixtures: a fresh server on port 0 (and any other it started), and the clients a test opened, all torn
 * down after the test whatever happened in it.
 */
export function useHarness(
  serverAdapter: Adapter,
  clientAdapter: Adapter,
  baseConnect: ConnectOptions,
  baseServer: ServerOptions = {},
) {
  let server: RealtimeServer | undefined;
  const others: RealtimeServer[] = [];
  const clients: RealtimeClient[] = [];
  const peers: RawPeer[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    for (const peer of peers.splice(0)) peer.destroy();
    await Promise.all([server?.close(), ...others.splice(0).map((other) => other.close())]);
    server = undefined;
  });

  const current = (): RealtimeServer => {
    if (!server) throw new Error('start() the server first');
    return server;
  };

  return {
    async start(options: ServerOptions = {}): Promise<RealtimeServer> {
      server = await serverAdapter.createServer({ port: 0, host: '127.0.0.1', ...baseServer, ...options });
      return server;
    },
    /** One more server (two on one bus: CONTRACT.md section 5), closed after the test; `server` stays the first. */
    async startOther(options: ServerOptions = {}): Promise<RealtimeServer> {
      const other = await serverAdapter.createServer({ port: 0, host: '127.0.0.1', ...baseServer, ...options });
      others.push(other);
      return other;
    },
    get server(): RealtimeServer {
      return current();
    },
    /** Connects (to `server`, or to `to`) without waiting for anything. */
    async connect(options: ConnectOptions = {}, to: RealtimeServer = current()): Promise<RealtimeClient> {
      const client = await clientAdapter.connect(to.url, { ...baseConnect, ...options });
      clients.push(client);
      return client;
    },
    /** Connects and takes the welcome, which must be the first message. */
    async join(options: ConnectOptions = {}, to: RealtimeServer = current()): Promise<Joined> {
      const client = await this.connect(options, to);
      const welcome = await client.receive();
      if (welcome.type !== 'welcome') throw new Error(`first message was ${welcome.type}, not welcome`);
      return { client, id: welcome.id };
    },
    /** Joins n clients one after another and drains the joins they announce to each other. */
    async joinAll<N extends number>(n: N, options: ConnectOptions = {}): Promise<JoinedTuple<N>> {
      const joined: Joined[] = [];
      for (let i = 0; i < n; i++) joined.push(await this.join(options));
      await Promise.all(joined.map(({ client }, i) => drain(client, 'join', n - 1 - i)));
      return joined as JoinedTuple<N>;
    },
    /** Destroys `peer` after the test, like the clients and raw peers opened here. */
    track<P extends RawPeer>(peer: P): P {
      peers.push(peer);
      return peer;
    },
    async raw(): Promise<RawPeer> {
      const peer = await RawPeer.open(current().port);
      peers.push(peer);
      return peer;
    },
    async rawUpgraded(spec: Parameters<typeof RawPeer.upgraded>[1] = {}): Promise<RawPeer> {
      const peer = await RawPeer.upgraded(current().port, spec);
      peers.push(peer);
      return peer;
    },
  };
}

/** `joinAll(3)` gives exactly three, so destructuring needs no checks. */
export type JoinedTuple<N extends number, R extends Joined[] = []> = R['length'] extends N
  ? R
  : JoinedTuple<N, [...R, Joined]>;

export type Harness = ReturnType<typeof useHarness>;

/** Takes `count` messages of one type. */
export async function drain(
  client: RealtimeClient,
  type: 'join' | 'leave' | 'broadcast',
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await client.receive(type);
}
