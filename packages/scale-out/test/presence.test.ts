import { join } from 'node:path';
import { describeWithRedis, startThrowawayRedis, type ThrowawayRedis, uniquePrefix } from '@socketlab/bus/testing';
import { type ServerProcess, startServerProcess } from '@socketlab/cli/process';
import { type ConnectionId, eventually, type RealtimeClient, replayPresence } from '@socketlab/contract';
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import { appsDir, clientFor } from './clients.js';

/**
 * Presence through faults (CONTRACT.md sections 1 and 5) as a user meets them: server apps of
 * different adapters in their own processes on a real Redis, real clients; processes killed
 * (SIGKILL), frozen (SIGSTOP / SIGCONT), Redis stopped and restarted. What is checked, for
 * every client: section 1's rule (replayed from its welcome's members and every join and
 * leave after it) and that its presence set (`client.members`) equals the true room, which
 * is what the servers themselves report (their `connection joined` / `connection left` logs).
 */
const TIMEOUT = 2_000;
const BOOT = 60_000;
/** Three adapters, three processes. */
const TRIO = ['ws-server', 'socketio-server', 'net-server'] as const;

interface Node {
  app: string;
  server: ServerProcess;
  state: 'running' | 'paused' | 'dead';
  /** The connections this test opened on it and has not ended. */
  expected: Set<ConnectionId>;
}

interface Member {
  node: Node;
  client: RealtimeClient;
  id: ConnectionId;
  /** The roster its welcome carried. */
  members: ConnectionId[];
  ended: boolean;
}

/** The ids a server says it holds, from its own debug log (complete lines only). */
function reportedBy(node: Node): Set<ConnectionId> {
  const text = node.server.stderr();
  const ids = new Set<ConnectionId>();
  for (const line of text.slice(0, text.lastIndexOf('\n')).split('\n')) {
    if (!line.includes('"connection joined"') && !line.includes('"connection left"')) continue;
    const entry = JSON.parse(line) as { id: string; msg: string };
    if (entry.msg === 'connection joined') ids.add(entry.id);
    else ids.delete(entry.id);
  }
  return ids;
}

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean =>
  a.size === b.size && [...a].every((x) => b.has(x));

await describeWithRedis('presence through faults (server apps as processes, real Redis)', () => {
  const nodes: Node[] = [];
  const everyone: Member[] = [];
  let throwaway: ThrowawayRedis | undefined;
  afterEach(async () => {
    for (const member of everyone.splice(0)) member.client.terminate();
    await Promise.all(
      nodes.splice(0).map(async (node) => {
        if (node.state === 'paused') node.server.child.kill('SIGCONT');
        await node.server.stop('SIGKILL');
      }),
    );
    await throwaway?.stop();
    throwaway = undefined;
  });

  const boot = async (apps: readonly string[], redisUrl: string): Promise<Node[]> => {
    const prefix = uniquePrefix('presence');
    const args = [
      '--port',
      '0',
      '--verbose',
      '--redis-url',
      redisUrl,
      '--redis-prefix',
      prefix,
      '--presence-timeout',
      `${TIMEOUT}ms`,
    ];
    const started = await Promise.all(
      apps.map(async (app) => {
        const server = await startServerProcess(join(appsDir, app), args);
        const node: Node = { app, server, state: 'running', expected: new Set() };
        nodes.push(node);
        return node;
      }),
    );
    return started;
  };

  const connect = async (node: Node): Promise<Member> => {
    const client = await clientFor(node.app).connect(node.server.url);
    const welcome = await client.receive(undefined, 5_000);
    if (welcome.type !== 'welcome') throw new Error(`${node.app}: first message was ${welcome.type}`);
    const member: Member = { node, client, id: welcome.id, members: welcome.members, ended: false };
    everyone.push(member);
    node.expected.add(member.id);
    return member;
  };

  const end = (member: Member, how: 'close' | 'terminate'): void => {
    member.ended = true;
    member.node.expected.delete(member.id);
    if (how === 'close') void member.client.close();
    else member.client.terminate();
  };

  const kill = async (node: Node): Promise<void> => {
    node.state = 'dead';
    for (const member of everyone) if (member.node === node) member.ended = true;
    node.expected.clear();
    await node.server.stop('SIGKILL');
  };

  const pause = (node: Node): void => {
    node.state = 'paused';
    node.server.child.kill('SIGSTOP');
  };
  const resume = (node: Node): void => {
    node.state = 'running';
    node.server.child.kill('SIGCONT');
  };

  /** The true room: what the servers report, once each reports what this test did to it. */
  const trueRoom = async (): Promise<Set<ConnectionId>> => {
    const alive = nodes.filter((node) => node.state !== 'dead');
    await eventually(
      () => alive.every((node) => sameSet(reportedBy(node), node.expected)),
      10_000,
      'every server to report the connections this test left open',
    );
    return new Set(alive.flatMap((node) => [...reportedBy(node)]));
  };

  /** Every live client's presence set equals the true room (without itself), within `ms`. */
  const converged = async (ms: number, what: string): Promise<void> => {
    const room = await trueRoom();
    const live = everyone.filter((m) => !m.ended);
    const wrong = (m: Member) => {
      const others = new Set([...room].filter((id) => id !== m.id));
      return !sameSet(m.client.members, others);
    };
    await eventually(() => !live.some(wrong), ms, what).catch((error: Error) => {
      const detail = live
        .filter(wrong)
        .map((m) => `${m.node.app} ${m.id}: has [${[...m.client.members]}], room [${[...room]}]`);
      throw new Error(`${error.message}\n${detail.join('\n')}`);
    });
  };

  /** Section 1's rule for every client this test ever opened, the ended ones included. */
  const expectConsistent = (): void => {
    for (const m of everyone) {
      const { breaches } = replayPresence(m.id, m.members, m.client.pending());
      expect(breaches, `${m.node.app} ${m.id}`).toStrictEqual([]);
    }
  };

  const populate = async (on: readonly Node[], perNode: number): Promise<void> => {
    for (let i = 0; i < perNode; i++) for (const node of on) await connect(node);
  };

  it(
    `three adapters (${TRIO.join(', ')}): a newcomer's members lists all; kill -9 one and every other client gets exactly one leave per lost client within ${TIMEOUT} ms`,
    async () => {
      const trio = await boot(TRIO, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      await populate(trio, 2);
      await converged(TIMEOUT, 'presence sets before the kill');
      const newcomer = await connect(trio[0]!);
      const others = everyone.filter((m) => m !== newcomer).map((m) => m.id);
      expect(new Set(newcomer.members)).toStrictEqual(new Set(others));
      expect(newcomer.members).toHaveLength(others.length);

      const victim = trio[2]!;
      const lost = everyone.filter((m) => m.node === victim).map((m) => m.id);
      const killedAt = Date.now();
      await kill(victim);
      const survivors = everyone.filter((m) => !m.ended);
      await eventually(
        () => survivors.every((m) => lost.every((id) => !m.client.members.has(id))),
        TIMEOUT,
        "every surviving client to get the lost clients' leaves",
      );
      const lastLeave = Date.now() - killedAt;
      expect(lastLeave).toBeLessThanOrEqual(TIMEOUT);
      // Exactly one leave per lost client, and nothing else changed.
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT / 2));
      for (const m of survivors) {
        for (const id of lost) {
          const leaves = m.client.pending().filter((x) => x.type === 'leave' && x.id === id);
          expect(leaves, `${m.node.app} ${m.id}: leaves of ${id}`).toHaveLength(1);
        }
      }
      await converged(TIMEOUT, 'presence sets after the kill');
      expectConsistent();
    },
    BOOT * 2,
  );

  it(
    'SIGSTOP a process past the timeout, change the room meanwhile, SIGCONT: every presence set equals the true room, no duplicate',
    async () => {
      const trio = await boot(TRIO, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      await populate(trio, 2);
      await converged(TIMEOUT, 'presence sets before the pause');
      const frozen = trio[1]!;
      const frozenIds = everyone.filter((m) => m.node === frozen).map((m) => m.id);
      pause(frozen);
      const elsewhere = () => everyone.filter((m) => !m.ended && m.node !== frozen);
      await eventually(
        () => elsewhere().every((m) => frozenIds.every((id) => !m.client.members.has(id))),
        TIMEOUT,
        "the frozen process's clients to leave everywhere else",
      );
      // While it is frozen: one of its clients goes, one client elsewhere goes, one comes.
      end(everyone.find((m) => m.node === frozen)!, 'terminate');
      end(everyone.find((m) => m.node === trio[0])!, 'close');
      await connect(trio[2]!);
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT / 2));
      resume(frozen);
      const resumedAt = Date.now();
      await converged(TIMEOUT, 'presence sets after SIGCONT');
      expect(Date.now() - resumedAt).toBeLessThanOrEqual(TIMEOUT + 1_000);
      expectConsistent();
    },
    BOOT * 2,
  );

  it(
    'a Redis restart while clients join and leave on several processes: every presence set equals the true room within the timeout after Redis is back',
    async () => {
      throwaway = await startThrowawayRedis();
      const trio = await boot(TRIO, throwaway.url);
      await populate(trio, 2);
      await converged(TIMEOUT, 'presence sets before the outage');
      await throwaway.stop();
      end(everyone.find((m) => m.node === trio[0])!, 'close');
      await connect(trio[1]!);
      end(everyone.find((m) => m.node === trio[2])!, 'terminate');
      await connect(trio[2]!);
      // Past the timeout: every process has declared the others gone by now.
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 1.2));
      await connect(trio[0]!);
      await throwaway.start();
      const backAt = Date.now();
      await converged(TIMEOUT, 'presence sets after Redis is back');
      expect(Date.now() - backAt).toBeLessThanOrEqual(TIMEOUT + 1_000);
      expectConsistent();
    },
    BOOT * 2,
  );

  type Step =
    | { kind: 'connect'; node: number }
    | { kind: 'end'; pick: number; how: 'close' | 'terminate' }
    | { kind: 'kill'; node: number }
    | { kind: 'pause'; node: number }
    | { kind: 'resume'; node: number }
    | { kind: 'redis'; up: boolean }
    | { kind: 'wait'; fraction: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('connect' as const), node: fc.nat(2) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('end' as const),
        pick: fc.nat(20),
        how: fc.constantFrom('close' as const, 'terminate' as const),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), node: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), node: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const), node: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('redis' as const), up: fc.boolean() }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('wait' as const), fraction: fc.integer({ min: 1, max: 12 }) }),
    },
  );

  it(
    'random connects, disconnects, kills, pauses and Redis outages: the rule holds for every client, and presence converges',
    async () => {
      throwaway = await startThrowawayRedis();
      const redis = throwaway;
      let redisUp = true;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 9 }), async (steps) => {
          const trio = await boot(TRIO, redis.url);
          const runMembers = everyone.length;
          for (const s of steps) {
            const running = trio.filter((n) => n.state === 'running');
            switch (s.kind) {
              case 'connect': {
                const node = running[s.node % Math.max(1, running.length)];
                if (node) await connect(node);
                break;
              }
              case 'end': {
                const open = everyone.slice(runMembers).filter((m) => !m.ended);
                const member = open[s.pick % Math.max(1, open.length)];
                if (member) end(member, s.how);
                break;
              }
              case 'kill': {
                const alive = trio.filter((n) => n.state !== 'dead');
                const node = alive[s.node % alive.length];
                if (node && alive.length > 1) {
                  if (node.state === 'paused') node.server.child.kill('SIGCONT');
                  await kill(node);
                }
                break;
              }
              case 'pause': {
                const node = running[s.node % Math.max(1, running.length)];
                if (node && running.length > 1) pause(node);
                break;
              }
              case 'resume': {
                const paused = trio.filter((n) => n.state === 'paused');
                const node = paused[s.node % Math.max(1, paused.length)];
                if (node) resume(node);
                break;
              }
              case 'redis':
                if (s.up && !redisUp) await redis.start();
                if (!s.up && redisUp) await redis.stop();
                redisUp = s.up;
                break;
              case 'wait':
                await new Promise((resolve) => setTimeout(resolve, (TIMEOUT * s.fraction) / 8));
                break;
            }
          }
          // Every fault ends: the frozen resume, Redis comes back.
          for (const node of trio) if (node.state === 'paused') resume(node);
          if (!redisUp) await redis.start();
          redisUp = true;
          await converged(TIMEOUT + 2_000, `presence sets after ${JSON.stringify(steps)}`);
          expectConsistent();
          // This run's processes and clients go; the next run starts afresh on a new prefix.
          for (const member of everyone.slice(runMembers)) {
            member.ended = true;
            member.client.terminate();
          }
          await Promise.all(
            trio.map(async (node) => {
              node.state = 'dead';
              await node.server.stop('SIGKILL');
            }),
          );
        }),
        { numRuns: 3, endOnFailure: true, interruptAfterTimeLimit: 150_000 },
      );
    },
    BOOT * 4,
  );
});
