import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import {
  describeWithRedis,
  freePort,
  startThrowawayRedis,
  TEST_REDIS_URL,
  type ThrowawayRedis,
  uniquePrefix,
} from '@socketlab/bus/testing';
import { type ServerProcess, startServerProcess } from '@socketlab/cli/process';
import { scrapeMetrics } from '@socketlab/conformance';
import { type ConnectionId, type ConnectOptions, eventually, type RealtimeClient } from '@socketlab/contract';
import { afterEach, expect, it } from 'vitest';
import { APPS, appsDir, clientFor } from './clients.js';

/**
 * Scale-out as a user runs it (CONTRACT.md section 5): server apps in their own processes,
 * started from their sources with --redis-url, real clients, a real Redis.
 */
const BOOT = 60_000;
const CROSS = 10_000;

interface Member {
  app: string;
  client: RealtimeClient;
  id: ConnectionId;
}

await describeWithRedis('scale-out over Redis (server apps as processes)', () => {
  const servers: ServerProcess[] = [];
  const clients: RealtimeClient[] = [];
  let throwaway: ThrowawayRedis | undefined;
  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await Promise.all(servers.splice(0).map((server) => server.stop('SIGKILL')));
    await throwaway?.stop();
    throwaway = undefined;
  });

  const start = async (app: string, args: string[]): Promise<ServerProcess> => {
    const server = await startServerProcess(join(appsDir, app), ['--port', '0', ...args]);
    servers.push(server);
    return server;
  };
  const onRedis = (prefix: string, url = TEST_REDIS_URL) => ['--redis-url', url, '--redis-prefix', prefix];
  const joinTo = async (server: ServerProcess, app = server.name, options: ConnectOptions = {}): Promise<Member> => {
    const clientAdapter = clientFor(app);
    const client = await clientAdapter.connect(server.url, options);
    clients.push(client);
    const welcome = await client.receive();
    if (welcome.type !== 'welcome') throw new Error(`${app}: first message was ${welcome.type}`);
    return { app, client, id: welcome.id };
  };

  /**
   * Takes `member`'s join from `earlier`. A join crosses Redis asynchronously, so a client
   * may also get the join of someone who connected elsewhere shortly before it did (that
   * join was still on its way when this client arrived): those, and only those, are skipped.
   */
  const expectJoin = async (earlier: Member, member: Member, joinedBefore: readonly Member[]): Promise<void> => {
    const stale = new Set(joinedBefore.slice(0, joinedBefore.indexOf(earlier)).map((m) => m.id));
    for (;;) {
      const message = await earlier.client.receive('join', CROSS);
      if (message.id === member.id) return;
      expect(stale.has(message.id), `${earlier.app} got join ${message.id}, expected ${member.id}`).toBe(true);
    }
  };

  it(
    'two ws-server processes on one Redis are one room: join, broadcast, leave; recipients stay local',
    async () => {
      const prefix = uniquePrefix('two');
      const [one, two] = await Promise.all([start('ws-server', onRedis(prefix)), start('ws-server', onRedis(prefix))]);
      const a1 = await joinTo(one);
      const a2 = await joinTo(one);
      expect(await a1.client.receive('join')).toStrictEqual({ type: 'join', id: a2.id });
      const b = await joinTo(two);
      for (const a of [a1, a2]) expect(await a.client.receive('join', CROSS)).toStrictEqual({ type: 'join', id: b.id });

      a1.client.send({ type: 'broadcast', payload: { from: 'one', n: [1, 2] } });
      const fromA1 = { type: 'broadcast', from: a1.id, payload: { from: 'one', n: [1, 2] } };
      expect(await a1.client.receive()).toStrictEqual(fromA1);
      expect(await a1.client.receive()).toStrictEqual({
        type: 'broadcastResult',
        payload: { from: 'one', n: [1, 2] },
        recipients: 2,
      });
      expect(await a2.client.receive('broadcast')).toStrictEqual(fromA1);
      expect(await b.client.receive('broadcast', CROSS)).toStrictEqual(fromA1);

      b.client.send({ type: 'broadcast', payload: 'two' });
      expect(await b.client.receive('broadcast')).toStrictEqual({ type: 'broadcast', from: b.id, payload: 'two' });
      expect(await b.client.receive('broadcastResult')).toMatchObject({ recipients: 1 });
      for (const a of [a1, a2]) {
        expect(await a.client.receive('broadcast', CROSS)).toStrictEqual({
          type: 'broadcast',
          from: b.id,
          payload: 'two',
        });
      }

      await b.client.close();
      for (const a of [a1, a2])
        expect(await a.client.receive('leave', CROSS)).toStrictEqual({ type: 'leave', id: b.id });
      // Nothing else crossed: no duplicates of a server's own events.
      expect(a1.client.pending()).toEqual([]);
      expect(a2.client.pending()).toEqual([]);
    },
    BOOT,
  );

  it(
    `one room across every protocol on main (${APPS.join(', ')})`,
    async () => {
      const prefix = uniquePrefix('cross');
      const started = await Promise.all(APPS.map((app) => start(app, onRedis(prefix))));
      const members: Member[] = [];
      for (const server of started) {
        const member = await joinTo(server);
        for (const earlier of members) await expectJoin(earlier, member, members);
        members.push(member);
      }
      for (const sender of members) {
        const payload = { app: sender.app, list: [1, 'two', null] };
        sender.client.send({ type: 'broadcast', payload });
        expect(await sender.client.receive('broadcastResult')).toStrictEqual({
          type: 'broadcastResult',
          payload,
          recipients: 1,
        });
        for (const other of members) {
          expect(await other.client.receive('broadcast', CROSS), `${other.app} gets ${sender.app}'s`).toStrictEqual({
            type: 'broadcast',
            from: sender.id,
            payload,
          });
        }
      }
      while (members.length > 1) {
        const leaving = members.shift()!;
        await leaving.client.close();
        for (const other of members) {
          expect(await other.client.receive('leave', CROSS), `${other.app} sees ${leaving.app} leave`).toStrictEqual({
            type: 'leave',
            id: leaving.id,
          });
        }
      }
    },
    BOOT,
  );

  /** Which worker took which client: the workers' own debug logs say. */
  const workersOf = (server: ServerProcess, members: readonly Member[]) =>
    eventually(
      () => {
        const map = new Map<string, number>();
        for (const line of server.stderr().split('\n')) {
          if (!line.includes('"connection joined"')) continue;
          const entry = JSON.parse(line) as { id: string; worker: number };
          map.set(entry.id, entry.worker);
        }
        return members.every((m) => map.has(m.id)) && map;
      },
      5_000,
      'a join log line for every client',
    );

  const workersCase = (app: string, transports: readonly (ConnectOptions['transport'] | undefined)[]) => async () => {
    const prefix = uniquePrefix('workers');
    const server = await start(app, ['--workers', '2', '--verbose', ...onRedis(prefix)]);
    expect(server.url).toMatch(/^(ws|http):\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.port).toBeGreaterThan(0);
    const members: Member[] = [];
    for (const transport of transports) {
      const member = await joinTo(server, app, transport === undefined ? {} : { transport });
      for (const earlier of members) await expectJoin(earlier, member, members);
      members.push(member);
    }
    const workerOf = await workersOf(server, members);
    expect(new Set(members.map((m) => workerOf.get(m.id))).size, 'clients landed on both workers').toBe(2);

    for (const sender of members) {
      const local = members.filter((m) => workerOf.get(m.id) === workerOf.get(sender.id)).length;
      sender.client.send({ type: 'broadcast', payload: { to: 'all workers', from: sender.id } });
      expect(await sender.client.receive('broadcastResult', CROSS)).toMatchObject({ recipients: local });
      for (const member of members) {
        expect(await member.client.receive('broadcast', CROSS)).toStrictEqual({
          type: 'broadcast',
          from: sender.id,
          payload: { to: 'all workers', from: sender.id },
        });
      }
    }

    // A scrape reaches one worker (a new connection each time, so both get some); whichever it
    // is answers for the whole cluster, every series with its worker label.
    for (let scrape = 0; scrape < 6; scrape++) {
      const scraped = await scrapeMetrics(`http://127.0.0.1:${server.port}/`);
      const series = scraped.samples.filter((sample) => sample.name === 'socketlab_connections');
      expect(new Set(series.map((sample) => sample.labels.worker))).toStrictEqual(new Set(['1', '2']));
      expect(scraped.value('socketlab_connections'), 'connections over both workers').toBe(members.length);
    }

    const exit = server.stop('SIGTERM');
    for (const member of members) {
      const closed = await member.client.closed;
      if (clientFor(app).capabilities.closeCodes) expect(closed.code).toBe(1001);
    }
    expect(await exit).toBe(0);
  };

  /** socket.io: long-polling sessions (many requests each) beside websocket ones. */
  const TRANSPORTS: Record<string, readonly (ConnectOptions['transport'] | undefined)[]> = {
    'socketio-server': ['polling', 'websocket', 'polling', 'polling', 'websocket'],
  };

  it.each(APPS)(
    '--workers 2 (%s): one port, clients spread over both workers see each other, /metrics answers for both; SIGTERM closes all, exit 0',
    (app) => workersCase(app, TRANSPORTS[app] ?? [undefined, undefined, undefined, undefined])(),
    BOOT,
  );

  it(
    'socket.io binary payloads cross processes as bytes',
    async () => {
      const prefix = uniquePrefix('binary');
      const [one, two] = await Promise.all([
        start('socketio-server', onRedis(prefix)),
        start('socketio-server', onRedis(prefix)),
      ]);
      const a = await joinTo(one, 'socketio-server', { transport: 'websocket' });
      const b = await joinTo(two, 'socketio-server', { transport: 'polling' });
      await a.client.receive('join', CROSS);
      const payload = { file: Buffer.from([0, 1, 2, 254, 255]), meta: { name: 'x.bin', parts: [Buffer.from('hi')] } };
      a.client.send({ type: 'broadcast', payload });
      const received = await b.client.receive('broadcast', CROSS);
      expect(received.from).toBe(a.id);
      const got = received.payload as { file: Uint8Array; meta: { name: string; parts: Uint8Array[] } };
      expect(got.file).toBeInstanceOf(Uint8Array);
      expect([...got.file]).toEqual([0, 1, 2, 254, 255]);
      expect(got.meta.name).toBe('x.bin');
      expect(Buffer.from(got.meta.parts[0]!).toString()).toBe('hi');
    },
    BOOT,
  );

  it(
    `Redis restart in the middle (${APPS.join(', ')}): local delivery goes on, cross-process delivery resumes, nothing crashes`,
    async () => {
      throwaway = await startThrowawayRedis();
      const prefix = uniquePrefix('restart');
      const started = await Promise.all(APPS.map((app) => start(app, onRedis(prefix, throwaway!.url))));
      const members: Member[] = [];
      for (const server of started) {
        const member = await joinTo(server);
        for (const earlier of members) await expectJoin(earlier, member, members);
        members.push(member);
      }

      await throwaway.stop();
      for (const server of started) {
        await eventually(
          () => server.stderr().includes('redis connection lost'),
          10_000,
          `${server.name} to log the outage`,
        );
      }
      // Local clients are served as before: a join, a broadcast with its local count, echoes.
      const [first] = members as [Member];
      const local = await joinTo(started[0]!);
      expect(await first.client.receive('join')).toStrictEqual({ type: 'join', id: local.id });
      first.client.send({ type: 'broadcast', payload: 'while redis is down' });
      expect(await first.client.receive('broadcast')).toMatchObject({ from: first.id });
      expect(await first.client.receive('broadcastResult')).toMatchObject({ recipients: 2 });
      expect(await local.client.receive('broadcast')).toMatchObject({ from: first.id, payload: 'while redis is down' });
      for (const member of members) {
        member.client.send({ type: 'echo', payload: `still here: ${member.app}` });
        expect(await member.client.receive('echo')).toStrictEqual({
          type: 'echo',
          payload: `still here: ${member.app}`,
        });
      }

      await throwaway.start();
      // Cross-process delivery resumes once every server is back: broadcast until all others got one.
      const sender = members.at(-1)!;
      const others = [...members.slice(0, -1), local];
      let attempt = 0;
      await eventually(
        async () => {
          sender.client.send({ type: 'broadcast', payload: { attempt: ++attempt } });
          await sender.client.receive('broadcastResult');
          return others.every((m) => m.client.pending().some((x) => x.type === 'broadcast' && x.from === sender.id));
        },
        15_000,
        `a broadcast from ${sender.app} to reach every other server after the restart`,
        200,
      );
      for (const server of started) {
        expect(server.child.exitCode, `${server.name} still running`).toBeNull();
        await eventually(
          () => server.stderr().includes('redis connection restored'),
          10_000,
          `${server.name} to log the recovery`,
        );
      }
      // What was published during the outage never arrives late.
      for (const member of members.slice(1)) {
        expect(member.client.pending().some((m) => m.type === 'broadcast' && m.from === first.id)).toBe(false);
      }
    },
    BOOT,
  );

  it(
    'an unreachable --redis-url at start is one clear line and exit 1, with and without --workers',
    async () => {
      const url = `redis://127.0.0.1:${await freePort()}`;
      for (const extra of [[], ['--workers', '2']]) {
        const startedAt = Date.now();
        const failure = await start('ws-server', ['--redis-url', url, ...extra]).then(
          () => new Error('the app started'),
          (error: Error) => error,
        );
        expect(failure.message).toContain('exited with 1 before it was ready');
        const lines = failure.message.split('\n').filter((line) => line.includes('cannot connect to Redis'));
        expect(lines).toEqual([
          `ws-server: cannot connect to Redis at ${url}: connect ECONNREFUSED 127.0.0.1:${url.split(':').at(-1)}`,
        ]);
        expect(Date.now() - startedAt).toBeLessThan(15_000);
      }
    },
    BOOT,
  );

  it(
    '--workers: a port in use is one line and exit 1; a worker that dies is replaced and the rest serve on',
    async () => {
      const blocker = createNetServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const busyPort = (blocker.address() as AddressInfo).port;
      try {
        const failure = await start('ws-server', [
          '--workers',
          '2',
          ...onRedis(uniquePrefix('busy')),
          '--port',
          String(busyPort),
        ]).then(
          () => new Error('the app started'),
          (error: Error) => error,
        );
        expect(failure.message).toContain('exited with 1 before it was ready');
        expect(failure.message.split('\n').filter((line) => line.includes('address already in use'))).toEqual([
          `ws-server: cannot listen on 127.0.0.1:${busyPort}: address already in use`,
        ]);
      } finally {
        blocker.close();
      }

      const server = await start('ws-server', ['--workers', '2', '--verbose', ...onRedis(uniquePrefix('replace'))]);
      const pids = await eventually(
        () => {
          const found = new Set<number>();
          for (const line of server.stderr().split('\n')) {
            if (!line.includes('"bus connected"')) continue;
            found.add((JSON.parse(line) as { pid: number }).pid);
          }
          return found.size === 2 && [...found];
        },
        5_000,
        'both workers to log their bus connection',
      );
      process.kill(pids[0]!, 'SIGKILL');
      await eventually(
        () => server.stderr().includes('worker exited unexpectedly: starting a replacement'),
        10_000,
        'the primary to replace the dead worker',
      );
      await eventually(() => server.stderr().split('"bus connected"').length - 1 === 3, 15_000, 'the replacement');
      // Every worker serves and shares the room: clients spread over the survivor and the replacement.
      const members: Member[] = [];
      for (let i = 0; i < 4; i++) {
        const member = await joinTo(server);
        for (const earlier of members) await expectJoin(earlier, member, members);
        members.push(member);
      }
      const workerOf = await workersOf(server, members);
      expect(new Set(members.map((m) => workerOf.get(m.id))).size).toBe(2);
      expect(server.child.exitCode).toBeNull();
      expect(await server.stop('SIGTERM')).toBe(0);
    },
    BOOT,
  );
});
