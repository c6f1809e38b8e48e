import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { CONTENDERS, isAvailable } from '../src/contenders.js';
import { formatNumber, median, metricsFor } from '../src/metrics.js';
import {
  type BenchResult,
  type ContenderResult,
  checkGoals,
  machine,
  markdown,
  type SoakReport,
  summarizeAll,
  svgChart,
  terminalTable,
} from '../src/report.js';
import { INJECT_LOSS_ENV, injectedReplyLoss } from '../src/soak.js';

const config = (() => {
  const parsed = parseConfig(['--smoke']);
  if (parsed === 'help') throw new Error('unexpected help');
  return parsed;
})();

function contender(name: string, rounds: Record<string, number>[], available = true): ContenderResult {
  return { name, description: name, available, rounds, summary: {} };
}

describe('figures', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('formats three significant digits with k and M', () => {
    expect(formatNumber(123_456)).toBe('123k');
    expect(formatNumber(12_345)).toBe('12.3k');
    expect(formatNumber(1_234)).toBe('1,234');
    expect(formatNumber(4.567)).toBe('4.57');
    expect(formatNumber(2_500_000)).toBe('2.50M');
  });
});

describe('ratios and goals', () => {
  const metrics = metricsFor(config);
  const round = (msgs: number, cpu: number, memory: number) => ({
    'echo64.msgsPerSec': msgs,
    'echo16384.msgsPerSec': msgs / 10,
    'echo64.cpuUsPerEcho': cpu,
    'echo16384.cpuUsPerEcho': cpu * 5,
    memoryPerConnection: memory,
  });
  const contenders = [
    contender('floor', [round(120, 4, 5000)]),
    contender('net', [round(100, 4.5, 9000), round(110, 4.4, 9000), round(90, 4.6, 9000)]),
    contender('ws', [round(100, 5, 10_000)]),
    contender('websocket', [], false),
  ];
  summarizeAll(contenders, metrics);

  it('summarizes each metric as median, min, max and the ratio to ws', () => {
    const net = contenders[1]!.summary['echo64.msgsPerSec']!;
    expect(net).toMatchObject({ median: 100, min: 90, max: 110 });
    expect(net.ratio).toBe(1);
    expect(contenders[0]!.summary['echo64.cpuUsPerEcho']!.ratio).toBeCloseTo(0.8);
  });

  it('checks the net goals on the medians, with the floor factor of 1.15', () => {
    const goals = checkGoals(contenders, config);
    const status = (text: string) => goals.find((g) => g.text === text)?.status;
    expect(status('net echo msgs/s (64 B) >= 1.00x ws')).toBe('met');
    expect(status('net CPU per echo (64 B) <= ws')).toBe('met');
    expect(status('net memory per connection <= ws')).toBe('met');
    expect(status('net CPU per echo (64 B) <= 1.15x floor')).toBe('met'); // 4.5 / 4 = 1.125
    expect(status('net CPU per echo (16384 B) <= 1.15x floor')).toBe('met');
    const slower = [contenders[0]!, contender('net', [round(99, 4.7, 11_000)]), contenders[2]!];
    summarizeAll(slower, metrics);
    const failed = checkGoals(slower, config);
    expect(failed.find((g) => g.text === 'net echo msgs/s (64 B) >= 1.00x ws')?.status).toBe('not met');
    expect(failed.find((g) => g.text === 'net memory per connection <= ws')?.status).toBe('not met');
    expect(failed.find((g) => g.text === 'net CPU per echo (64 B) <= 1.15x floor')?.status).toBe('not met');
  });

  it('checks the compressed-broadcast goal only at the 1,000 recipients it is stated for, and names what is missing', () => {
    const chat = (cpu: number) => ({ 'burstChat.cpuUsPerDelivery': cpu });
    const run = [contender('net', [chat(4.9)]), contender('net+deflate', [chat(5.0)]), contender('ws', [chat(9)])];
    summarizeAll(run, metrics);
    const goal = (clients: number, contenders = run) =>
      checkGoals(contenders, { ...config, broadcastClients: clients }).find((g) => /compressed broadcast/.test(g.text));
    expect(goal(1000)).toMatchObject({
      status: 'met',
      text: 'net compressed broadcast to 1000 <= 1.3x its uncompressed broadcast CPU',
    });
    expect(goal(1000)!.detail).toContain('1.02x');
    expect(goal(200)).toMatchObject({
      status: 'not available',
      detail: 'this run broadcast to 200 clients; the goal is stated at 1000 (--clients 1000 or --full)',
    });
    const costly = [contender('net', [chat(4.9)]), contender('net+deflate', [chat(6.5)])];
    summarizeAll(costly, metrics);
    expect(goal(1000, costly)?.status).toBe('not met');
    // A contender that ran without the phase, against one that did not run at all.
    const echoOnly = [contender('net', [round(100, 4.5, 9000)]), contender('net+deflate', [chat(5)])];
    summarizeAll(echoOnly, metrics);
    expect(goal(1000, echoOnly)?.detail).toBe('net has no burstChat.cpuUsPerDelivery figure: its phase did not run');
    expect(goal(1000, [run[0]!])?.detail).toBe('net+deflate did not run');
  });

  it('shows a contender whose app is missing as not available, in every output', () => {
    const result: BenchResult = {
      date: '2026-01-01T00:00:00.000Z',
      machine: machine(),
      mode: 'smoke',
      seconds: 1,
      config,
      baseline: 'ws',
      metrics,
      contenders,
      goals: checkGoals(contenders, config),
    };
    expect(terminalTable(result)).toContain('not available (app not in the tree): websocket');
    expect(markdown(result)).toContain('| not available |');
    const svg = svgChart(result, metrics[0]!);
    expect(svg).toContain('not available: websocket');
    expect(svg).not.toContain('>websocket<');
  });
});

describe('flags', () => {
  it('rejects an unknown contender and a bad duration with a message', () => {
    expect(() => parseConfig(['--contenders', 'ws,nope'])).toThrow(/unknown contender "nope"/);
    expect(() => parseConfig(['--duration', 'soon'])).toThrow(/bad duration/);
    expect(() => parseConfig(['--full', '--smoke'])).toThrow(/contradict/);
  });
  it('--clients and --duration size the broadcast and echo, or the soak', () => {
    const plain = parseConfig(['--clients', '300', '--duration', '2s']);
    expect(plain).toMatchObject({ broadcastClients: 300, echoMs: 2000 });
    const soak = parseConfig(['--soak', '--clients', '3000', '--duration', '2m']);
    expect(soak).toMatchObject({ soakClients: 3000, soakMs: 120_000 });
  });
  it('--full uses the issue sizes: 1,000 broadcast clients, 5,000 timed and 10,000 idle connections', () => {
    expect(parseConfig(['--full'])).toMatchObject({
      broadcastClients: 1000,
      connectClients: 5000,
      idleClients: 10_000,
    });
  });
  it('--phases runs a subset, in the fixed order, and the table shows only their figures', () => {
    const parsed = parseConfig(['--phases', 'echo, memory']);
    if (parsed === 'help') throw new Error('unexpected help');
    expect(parsed.phases).toEqual(['memory', 'echo']);
    const keys = metricsFor(parsed).map((m) => m.key);
    expect(keys).toContain('echo64.cpuUsPerEcho');
    expect(keys).toContain('handshakeBytes');
    expect(keys).toContain('memoryPerConnection');
    expect(keys).toContain('heapPerConnection');
    expect(keys).not.toContain('connectPerSec');
    expect(keys.some((key) => key.startsWith('broadcast.') || key.startsWith('burst.'))).toBe(false);
    expect(() => parseConfig(['--phases', 'echo,warp'])).toThrow(/unknown phase "warp"/);
    const all = parseConfig([]);
    if (all === 'help') throw new Error('unexpected help');
    expect(all.phases).toEqual(['connect', 'memory', 'echo', 'broadcast', 'tls']);
  });
  it('knows which contender apps exist', () => {
    expect(isAvailable(CONTENDERS.find((c) => c.name === 'ws')!)).toBe(true);
    expect(isAvailable(CONTENDERS.find((c) => c.name === 'floor')!)).toBe(true);
    expect(isAvailable({ ...CONTENDERS[0]!, appDir: '/nonexistent' })).toBe(false);
  });
});

describe('the soak test hook', () => {
  it('drops replies only for the contender it names, and rejects a malformed value', () => {
    expect(injectedReplyLoss('floor', {})).toBe(0);
    expect(injectedReplyLoss('floor', { [INJECT_LOSS_ENV]: 'floor:3' })).toBe(3);
    expect(injectedReplyLoss('ws', { [INJECT_LOSS_ENV]: 'floor:3' })).toBe(0);
    expect(() => injectedReplyLoss('floor', { [INJECT_LOSS_ENV]: '3' })).toThrow(/must be <contender>:<count>/);
  });
});

describe('soak output', () => {
  const soak = (contender: string, extra: Partial<SoakReport> = {}): SoakReport => ({
    contender,
    clients: 2000,
    echoIntervalMs: 1000,
    seconds: 60.4,
    echoesSent: 120_800,
    echoesReceived: 120_800,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    broadcastsSent: 30,
    broadcastDeliveries: 60_000,
    broadcastDeliveriesExpected: 60_000,
    rssSamples: [100 * 2 ** 20, 101 * 2 ** 20],
    rssGrowth: 0.01,
    memoryFlat: true,
    passed: true,
    ...extra,
  });
  const result: BenchResult = {
    date: '2026-01-01T00:00:00.000Z',
    machine: machine(),
    mode: 'soak',
    seconds: 400,
    config,
    baseline: 'ws',
    metrics: [],
    contenders: [contender('ws', []), contender('socket.io-polling', [])],
    goals: [],
    soak: [
      soak('ws'),
      soak('socket.io-polling', {
        error: 'load process 0: Error: a client closed while syncing (disconnect: transport error)',
        echoesReceived: 120_700,
        lost: 100,
        passed: false,
      }),
    ],
  };

  it('prints the soak lines only: no metric table, no goals heading, no rounds', () => {
    const lines = terminalTable(result).trimEnd().split('\n');
    expect(lines[0]).toMatch(/ · mode soak, 400 s$/);
    expect(lines.slice(1)).toEqual([
      '',
      expect.stringMatching(
        /^soak ws: PASSED · 2000 clients, an echo each every 1000 ms, 60 s · echoes 120800\/120800, /,
      ),
      expect.stringMatching(
        /^soak socket\.io-polling: FAILED · .* · load process 0: Error: a client closed while syncing \(disconnect: transport error\) · until then \(replies in flight not awaited\): echoes 120700\/120800, lost 100, /,
      ),
    ]);
  });

  it('writes one table row per contender, the error in its result cell', () => {
    const md = markdown(result);
    expect(md).toContain('| ws | passed | 2000 | 1000 ms | 60.4 | 120800 | 120800 | 0 | 0 | 0 | 60000/60000 |');
    expect(md).toContain(
      '| socket.io-polling | FAILED: load process 0: Error: a client closed while syncing (disconnect: transport error) (the counts are those until then) | 2000 |',
    );
    for (const absent of ['| metric |', 'goal (net adapter)', 'Echo, TLS echo and broadcast phases', 'round(s)'])
      expect(md).not.toContain(absent);
  });
});
