import type { BenchConfig, Phase } from './config.js';
import { echoKey, echoWindows, formatBytes } from './measure.js';

export interface Metric {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Gets its own SVG chart. */
  chart: boolean;
  /** Figures are stored in base units; `scale` turns them into `unit` for display. */
  scale?: number;
}

/** Every figure in the table, in order, for the phases the run measured. */
export function metricsFor(config: BenchConfig): Metric[] {
  return allMetrics(config)
    .filter((m) => config.phases.includes(m.phase))
    .map(({ phase: _, ...metric }) => metric);
}

/** Every figure a round can produce, with the phase that measures it; labels carry the sizes the run used. */
function allMetrics(config: BenchConfig): (Metric & { phase: Phase })[] {
  const echo = echoWindows(config).flatMap(([bytes, content]): (Metric & { phase: Phase })[] => {
    const size = `${formatBytes(bytes)}${content === 'repeat' ? '' : ` ${content}`}`;
    const k = echoKey(bytes, content);
    // Charts for the plain payload as before; the table has every content.
    const small = bytes === config.echoPayloads[0] && content === 'repeat';
    const charted = content === 'repeat';
    return [
      {
        phase: 'echo',
        key: `${k}.msgsPerSec`,
        label: `echo ${size}: msgs/s`,
        unit: 'msg/s',
        better: 'higher',
        chart: charted,
      },
      {
        phase: 'echo',
        key: `${k}.p50Us`,
        label: `echo ${size}: latency p50`,
        unit: 'µs',
        better: 'lower',
        chart: false,
      },
      {
        phase: 'echo',
        key: `${k}.p99Us`,
        label: `echo ${size}: latency p99`,
        unit: 'µs',
        better: 'lower',
        chart: small,
      },
      {
        phase: 'echo',
        key: `${k}.p999Us`,
        label: `echo ${size}: latency p99.9`,
        unit: 'µs',
        better: 'lower',
        chart: false,
      },
      {
        phase: 'echo',
        key: `${k}.cpuUsPerEcho`,
        label: `echo ${size}: server CPU per echo`,
        unit: 'µs',
        better: 'lower',
        chart: charted,
      },
      {
        phase: 'echo',
        key: `${k}.clientCpuUsPerEcho`,
        label: `echo ${size}: load-generator CPU per echo`,
        unit: 'µs',
        better: 'lower',
        chart: false,
      },
      {
        phase: 'echo',
        key: `${k}.bytesPerEcho`,
        label: `echo ${size}: wire bytes per round trip`,
        unit: 'B',
        better: 'lower',
        chart: small,
      },
    ];
  });
  return [
    ...echo,
    {
      phase: 'broadcast',
      key: 'broadcast.p50Ms',
      label: `broadcast to ${config.broadcastClients}: all delivered p50`,
      unit: 'ms',
      better: 'lower',
      chart: false,
    },
    {
      phase: 'broadcast',
      key: 'broadcast.p99Ms',
      label: `broadcast to ${config.broadcastClients}: all delivered p99`,
      unit: 'ms',
      better: 'lower',
      chart: true,
    },
    {
      phase: 'broadcast',
      key: 'burst.deliveriesPerSec',
      label: `burst of ${config.burst} to ${config.broadcastClients}: deliveries/s`,
      unit: 'msg/s',
      better: 'higher',
      chart: true,
    },
    {
      phase: 'broadcast',
      key: 'burst.cpuUsPerDelivery',
      label: `burst of ${config.burst} to ${config.broadcastClients}: server CPU per delivery`,
      unit: 'µs',
      better: 'lower',
      chart: false,
    },
    {
      phase: 'broadcast',
      key: 'burstChat.deliveriesPerSec',
      label: `burst of ${config.burst} chat JSON (${formatBytes(config.broadcastChatBytes)}) to ${config.broadcastClients}: deliveries/s`,
      unit: 'msg/s',
      better: 'higher',
      chart: false,
    },
    {
      phase: 'broadcast',
      key: 'burstChat.cpuUsPerDelivery',
      label: `burst of ${config.burst} chat JSON (${formatBytes(config.broadcastChatBytes)}) to ${config.broadcastClients}: server CPU per delivery`,
      unit: 'µs',
      better: 'lower',
      chart: true,
    },
    {
      phase: 'connect',
      key: 'connectPerSec',
      label: `connections/s (${config.connectClients} opened, welcomed, closed; ${config.connectConcurrency} at a time)`,
      unit: 'conn/s',
      better: 'higher',
      chart: true,
    },
    {
      phase: 'echo',
      key: 'handshakeBytes',
      label: 'wire bytes per handshake',
      unit: 'B',
      better: 'lower',
      chart: true,
    },
    {
      phase: 'memory',
      key: 'memoryPerConnection',
      label: `memory per idle connection (${config.idleClients})`,
      unit: 'KiB',
      better: 'lower',
      chart: true,
      scale: 1 / 1024,
    },
    {
      phase: 'memory',
      // The live JS heap alone: objects the transport keeps per connection, without the
      // sockets' native memory and the allocator's slack that RSS also counts.
      key: 'heapPerConnection',
      label: `JS heap per idle connection (${config.idleClients})`,
      unit: 'KiB',
      better: 'lower',
      chart: true,
      scale: 1 / 1024,
    },
    // Beside the plain figures: the same measurements with the server on TLS (the raw-TCP floor has none).
    {
      phase: 'tls',
      key: 'tls.connectPerSec',
      label: `TLS handshakes/s (${config.connectClients} opened over wss:// or https://, welcomed, closed)`,
      unit: 'conn/s',
      better: 'higher',
      chart: true,
    },
    {
      phase: 'tls',
      key: 'tls.echo.msgsPerSec',
      label: `echo ${formatBytes(config.echoPayloads[0] ?? 64)} over TLS: msgs/s`,
      unit: 'msg/s',
      better: 'higher',
      chart: false,
    },
    {
      phase: 'tls',
      key: 'tls.echo.cpuUsPerEcho',
      label: `echo ${formatBytes(config.echoPayloads[0] ?? 64)} over TLS: server CPU per echo`,
      unit: 'µs',
      better: 'lower',
      chart: true,
    },
  ];
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** median / the baseline's median; undefined when the baseline did not run. */
  ratio?: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Three significant digits, thousands as k and millions as M. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  return trim(value);
}

function trim(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toFixed(digits);
}
