import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { BASELINE } from './contenders.js';
import type { RoundFigures } from './measure.js';
import { echoKey } from './measure.js';
import { formatNumber, type Metric, metricsFor, type Summary, summarize } from './metrics.js';
import type { Pinning } from './pin.js';

export interface ContenderResult {
  name: string;
  description: string;
  available: boolean;
  rounds: RoundFigures[];
  summary: Record<string, Summary>;
}

export interface Goal {
  text: string;
  status: 'met' | 'not met' | 'not available';
  detail: string;
}

/** One contender's soak; every count is that contender's traffic only. */
export interface SoakReport {
  contender: string;
  clients: number;
  /** Each client sends one numbered echo this often. */
  echoIntervalMs: number;
  /** How long the echo traffic ran: from the first soakStart sent to the last soakStop answered. */
  seconds: number;
  echoesSent: number;
  echoesReceived: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  broadcastsSent: number;
  broadcastDeliveries: number;
  broadcastDeliveriesExpected: number;
  /** Server RSS after a forced GC, sampled through the soak (bytes). */
  rssSamples: number[];
  rssGrowth: number;
  memoryFlat: boolean;
  /** Replies the test hook (INJECT_LOSS_ENV in soak.ts) discarded on purpose; absent in a real run. */
  injectedLoss?: number;
  /**
   * Why the soak stopped early (a client closed, a probe did not answer); the counts are then
   * those until the error, with replies still in flight counted as lost.
   */
  error?: string;
  passed: boolean;
}

export interface BenchResult {
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; kernel: string };
  mode: string;
  seconds: number;
  config: BenchConfig;
  baseline: string;
  metrics: Metric[];
  contenders: ContenderResult[];
  goals: Goal[];
  /** The CPUs the echo, TLS echo and broadcast phases pinned server and load generators to; absent when nothing was pinned. */
  cpuPinning?: Pinning;
  soak?: SoakReport[];
}

export function machine(): BenchResult['machine'] {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${process.platform} ${release()}`,
  };
}

/** Medians, min and max over the rounds, and every median's ratio to the baseline's. */
export function summarizeAll(contenders: ContenderResult[], metrics: Metric[]): void {
  for (const contender of contenders) {
    // Every figure the rounds have, shown in the table or not (e.g. the delivery count).
    const keys = new Set([...metrics.map((m) => m.key), ...contender.rounds.flatMap((round) => Object.keys(round))]);
    for (const key of keys) {
      const values = contender.rounds.map((round) => round[key]).filter((v): v is number => v !== undefined);
      if (values.length > 0) contender.summary[key] = summarize(values);
    }
  }
  const baseline = contenders.find((c) => c.name === BASELINE);
  for (const contender of contenders) {
    for (const [key, summary] of Object.entries(contender.summary)) {
      const base = baseline?.summary[key]?.median;
      if (base) summary.ratio = summary.median / base;
    }
  }
}

/** The room size the compressed-broadcast goal is stated for (issue 14). */
const GOAL_BROADCAST_CLIENTS = 1000;

/** The issue's goal for the net adapter, checked on the medians. */
export function checkGoals(contenders: ContenderResult[], config: BenchConfig): Goal[] {
  const metrics = metricsFor(config);
  const summaryOf = (name: string, key: string) => contenders.find((c) => c.name === name)?.summary[key];
  const get = (name: string, key: string) => summaryOf(name, key)?.median;
  const show = (key: string, value: number) => {
    const metric = metrics.find((m) => m.key === key);
    return `${formatNumber(value * (metric?.scale ?? 1))} ${metric?.unit ?? ''}`.trim();
  };
  const goals: Goal[] = [];
  const compare = (
    text: string,
    key: string,
    other: string,
    factor: number,
    better: 'higher' | 'lower',
    subject = 'net',
    otherKey = key,
  ): void => {
    const net = get(subject, key);
    const reference = get(other, otherKey);
    if (net === undefined || reference === undefined) {
      const missing = net === undefined ? subject : other;
      const detail = contenders.some((c) => c.name === missing)
        ? `${missing} has no ${net === undefined ? key : otherKey} figure: its phase did not run`
        : `${missing} did not run`;
      goals.push({ text, status: 'not available', detail });
      return;
    }
    const ratio = net / reference;
    const met = better === 'higher' ? ratio >= factor : ratio <= factor;
    // Whether the rounds tell the two apart at all: their min-max spreads (the reference's
    // scaled by the factor) overlap when the difference is within run-to-run noise.
    const a = summaryOf(subject, key);
    const b = summaryOf(other, otherKey);
    const overlap = a && b && a.min <= b.max * factor && b.min * factor <= a.max;
    goals.push({
      text,
      status: met ? 'met' : 'not met',
      detail: `${subject} ${show(key, net)} vs ${other} ${show(otherKey, reference)}: ${ratio.toFixed(2)}x${overlap ? ' (min–max spreads overlap: within run-to-run noise)' : ''}`,
    });
  };
  for (const bytes of config.echoPayloads) {
    compare(`net echo msgs/s (${bytes} B) >= 1.00x ws`, `echo${bytes}.msgsPerSec`, 'ws', 1, 'higher');
  }
  for (const bytes of config.echoPayloads) {
    compare(`net CPU per echo (${bytes} B) <= ws`, `echo${bytes}.cpuUsPerEcho`, 'ws', 1, 'lower');
  }
  compare('net memory per connection <= ws', 'memoryPerConnection', 'ws', 1, 'lower');
  for (const bytes of config.echoPayloads) {
    compare(`net CPU per echo (${bytes} B) <= 1.15x floor`, `echo${bytes}.cpuUsPerEcho`, 'floor', 1.15, 'lower');
  }
  // permessage-deflate (issue 14): the +deflate contenders, chat-like JSON.
  if (config.echoContents.includes('chat')) {
    for (const bytes of config.echoPayloads) {
      const key = `${echoKey(bytes, 'chat')}.cpuUsPerEcho`;
      compare(
        `net CPU per echo with compression (${bytes} B chat) <= ws`,
        key,
        'ws+deflate',
        1,
        'lower',
        'net+deflate',
      );
    }
  }
  compare(
    'net memory per idle compressing connection <= 0.5x ws',
    'memoryPerConnection',
    'ws+deflate',
    0.5,
    'lower',
    'net+deflate',
  );
  // Stated at 1,000 recipients: each broadcast also has a fixed cost (inflating the sender's
  // message, compressing the broadcast once and the sender's broadcastResult), which a smaller
  // room spreads over fewer deliveries.
  const goalText = `net compressed broadcast to ${GOAL_BROADCAST_CLIENTS} <= 1.3x its uncompressed broadcast CPU`;
  if (config.broadcastClients < GOAL_BROADCAST_CLIENTS) {
    goals.push({
      text: goalText,
      status: 'not available',
      detail: `this run broadcast to ${config.broadcastClients} clients; the goal is stated at ${GOAL_BROADCAST_CLIENTS} (--clients ${GOAL_BROADCAST_CLIENTS} or --full)`,
    });
  } else {
    compare(goalText, 'burstChat.cpuUsPerDelivery', 'net', 1.3, 'lower', 'net+deflate');
  }
  return goals;
}

function cell(summary: Summary | undefined, metric: Metric, withRange: boolean): string {
  if (!summary) return '';
  const scale = metric.scale ?? 1;
  const value = formatNumber(summary.median * scale);
  const range = withRange ? ` (${formatNumber(summary.min * scale)}–${formatNumber(summary.max * scale)})` : '';
  const ratio = summary.ratio === undefined ? '' : ` ${summary.ratio.toFixed(2)}x`;
  return `${value}${range}${ratio}`;
}

function header(result: BenchResult): string {
  const m = result.machine;
  // A soak has no rounds: each contender soaks once.
  const rounds = result.soak ? '' : `, ${result.config.rounds} round(s)`;
  return `${result.date} · ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB · Node ${m.node} · ${m.kernel} · mode ${result.mode}${rounds}, ${Math.round(result.seconds)} s`;
}

/** The terminal table: one row per metric, one column per contender; median and ratio to ws. */
export function terminalTable(result: BenchResult): string {
  const columns = result.contenders;
  const rows = result.metrics.map((metric) => [
    `${metric.label} [${metric.unit}]`,
    ...columns.map((c) => (c.available ? cell(c.summary[metric.key], metric, false) : 'n/a')),
  ]);
  const head = ['metric (median, ratio to ws)', ...columns.map((c) => c.name)];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((text, i) => (i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))).join('  ');
  // Only what the run measured: a soak has no metric table and no goals.
  const out = [header(result)];
  if (rows.length) out.push('', line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line));
  const missing = columns.filter((c) => !c.available);
  if (missing.length) out.push('', `not available (app not in the tree): ${missing.map((c) => c.name).join(', ')}`);
  if (result.goals.length) {
    out.push('', 'goals (net adapter):');
    for (const goal of result.goals) out.push(`  [${goal.status}] ${goal.text}: ${goal.detail}`);
  }
  if (result.soak?.length) out.push('', ...result.soak.map(soakLine));
  return `${out.join('\n')}\n`;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function soakLine(soak: SoakReport): string {
  const injected = soak.injectedLoss ? ` (${soak.injectedLoss} dropped on purpose by the test hook)` : '';
  const error = soak.error ? ` · ${soak.error} · until then (replies in flight not awaited):` : ' ·';
  return `soak ${soak.contender}: ${soak.passed ? 'PASSED' : 'FAILED'} · ${soak.clients} clients, an echo each every ${soak.echoIntervalMs} ms, ${Math.round(soak.seconds)} s${error} echoes ${soak.echoesReceived}/${soak.echoesSent}, lost ${soak.lost}${injected}, duplicated ${soak.duplicated}, out of order ${soak.outOfOrder} · broadcast deliveries ${soak.broadcastDeliveries}/${soak.broadcastDeliveriesExpected} · RSS after GC ${soak.rssSamples.map(mib).join(' → ')} MiB (${(soak.rssGrowth * 100).toFixed(1)}%, ${soak.memoryFlat ? 'flat' : 'NOT flat'})`;
}

/** The soak as Markdown: one row per contender, each counting its own traffic only. */
function soakMarkdown(result: BenchResult, soaks: SoakReport[]): string[] {
  return [
    `**${header(result)}**`,
    '',
    `Each row is one contender on a fresh server and counts its own traffic only: its clients each send a numbered echo every interval, one of them broadcasts every ${result.config.soakBroadcastIntervalMs} ms; every echo must come back once and in order, every broadcast reach every client once, and the RSS after a forced GC stay flat.`,
    '',
    '| contender | result | clients | echo every | seconds | echoes sent | received | lost | duplicated | out of order | broadcast deliveries | RSS after GC, first → last (MiB) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...soaks.map(
      (s) =>
        `| ${s.contender} | ${s.passed ? 'passed' : 'FAILED'}${s.error ? `: ${s.error} (the counts are those until then)` : ''} | ${s.clients} | ${s.echoIntervalMs} ms | ${s.seconds.toFixed(1)} | ${s.echoesSent} | ${s.echoesReceived} | ${s.lost}${s.injectedLoss ? ` (${s.injectedLoss} by the test hook)` : ''} | ${s.duplicated} | ${s.outOfOrder} | ${s.broadcastDeliveries}/${s.broadcastDeliveriesExpected} | ${mib(s.rssSamples[0] ?? 0)} → ${mib(s.rssSamples.at(-1) ?? 0)} (${(s.rssGrowth * 100).toFixed(1)} %, ${s.memoryFlat ? 'flat' : 'NOT flat'}) |`,
    ),
    '',
    ...result.contenders.map(
      (c) => `- **${c.name}**: ${c.description}${c.available ? '' : ' — not available (app not in the tree)'}`,
    ),
  ];
}

export function markdown(result: BenchResult): string {
  if (result.soak) return `${soakMarkdown(result, result.soak).join('\n')}\n`;
  const columns = result.contenders;
  const out = [
    `**${header(result)}**`,
    '',
    `Each cell: median over the rounds (min–max), then the ratio to ${result.baseline}. Better is higher for rates, lower for everything else.`,
    '',
    result.cpuPinning
      ? `Echo, TLS echo and broadcast phases: the server pinned to CPU ${result.cpuPinning.server}, the load generators to CPU ${result.cpuPinning.load} (taskset), so neither takes the other's core.`
      : 'Echo, TLS echo and broadcast phases: not pinned to CPUs (no taskset, or one CPU): server and load generators share the cores.',
    '',
    `| metric | ${columns.map((c) => c.name).join(' | ')} |`,
    `| --- | ${columns.map(() => '---:').join(' | ')} |`,
    ...result.metrics.map(
      (metric) =>
        `| ${metric.label} (${metric.unit}) | ${columns.map((c) => (c.available ? cell(c.summary[metric.key], metric, true) : 'not available')).join(' | ')} |`,
    ),
    '',
    '| goal (net adapter) | status | detail |',
    '| --- | --- | --- |',
    ...result.goals.map((goal) => `| ${goal.text} | ${goal.status} | ${goal.detail} |`),
    '',
    ...columns.map(
      (c) => `- **${c.name}**: ${c.description}${c.available ? '' : ' — not available (app not in the tree)'}`,
    ),
  ];
  const deliveries = columns.find((c) => c.summary['broadcast.deliveries'])?.summary['broadcast.deliveries'];
  if (deliveries) {
    out.push(
      '',
      `Every broadcast was delivered exactly once to every client, in every round (${deliveries.median} deliveries per round per contender, checked).`,
    );
  }
  return `${out.join('\n')}\n`;
}

const COLORS: Record<string, string> = { floor: '#9e9e9e', ws: '#1f77b4' };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** The opening of every chart: the svg element, a white background, the title and the subtitle. */
function svgHead(width: number, height: number, title: string, subtitle: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
}

export interface BarGroup {
  /** The group's name (a contender). */
  label: string;
  /** One value per series, in the series' order. */
  values: number[];
}

/**
 * A horizontal bar chart in groups: one group per contender, one bar per series (e.g. local
 * and through-Redis latency), each series its own colour with a legend.
 */
export function svgGroupedChart(title: string, subtitle: string, series: string[], groups: BarGroup[]): string {
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
  const width = 760;
  const left = 150;
  const right = 110;
  const barHeight = 16;
  const top = 62;
  const groupHeight = series.length * (barHeight + 3) + 12;
  const height = top + groups.length * groupHeight + 10;
  const maxValue = Math.max(...groups.flatMap((g) => g.values), 1e-9);
  const x = (value: number) => left + ((width - left - right) * value) / maxValue;
  const parts = [
    ...svgHead(width, height, title, subtitle),
    ...series.map((name, i) => {
      const lx = 10 + i * 170;
      return `<rect x="${lx}" y="46" width="10" height="10" fill="${palette[i % palette.length]}"/><text x="${lx + 14}" y="55">${escapeXml(name)}</text>`;
    }),
  ];
  groups.forEach((group, g) => {
    const y0 = top + g * groupHeight;
    parts.push(
      `<text x="${left - 8}" y="${y0 + (series.length * (barHeight + 3)) / 2 + 4}" text-anchor="end">${escapeXml(group.label)}</text>`,
    );
    group.values.forEach((value, i) => {
      const y = y0 + i * (barHeight + 3);
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(value) - left).toFixed(1)}" height="${barHeight}" fill="${palette[i % palette.length]}"/>`,
        `<text x="${(x(value) + 6).toFixed(1)}" y="${y + barHeight - 4}">${escapeXml(formatNumber(value))}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** One horizontal bar chart: contenders as bars, the median as the bar, min–max as a whisker. */
export function svgChart(result: BenchResult, metric: Metric): string {
  const bars = result.contenders.filter((c) => c.available && c.summary[metric.key]);
  const scale = metric.scale ?? 1;
  const width = 760;
  const left = 150;
  const right = 150;
  const barHeight = 22;
  const gap = 10;
  const top = 52;
  const height = top + bars.length * (barHeight + gap) + 20;
  const maxValue = Math.max(...bars.map((c) => c.summary[metric.key]!.max * scale), 1e-9);
  const x = (value: number) => left + ((width - left - right) * value) / maxValue;
  const parts = svgHead(
    width,
    height,
    `${metric.label} (${metric.unit})`,
    `${metric.better} is better · median of ${result.config.rounds} round(s), whisker min–max · ratio to ${result.baseline} · ${result.date.slice(0, 10)}, mode ${result.mode}`,
  );
  bars.forEach((contender, index) => {
    const summary = contender.summary[metric.key]!;
    const y = top + index * (barHeight + gap);
    const mid = y + barHeight / 2;
    const ratio = summary.ratio === undefined ? '' : `  ${summary.ratio.toFixed(2)}x`;
    parts.push(
      `<text x="${left - 8}" y="${mid + 4}" text-anchor="end">${escapeXml(contender.name)}</text>`,
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(summary.median * scale) - left).toFixed(1)}" height="${barHeight}" fill="${COLORS[contender.name] ?? '#ff7f0e'}"/>`,
      `<line x1="${x(summary.min * scale).toFixed(1)}" x2="${x(summary.max * scale).toFixed(1)}" y1="${mid}" y2="${mid}" stroke="#222" stroke-width="1.5"/>`,
      `<line x1="${x(summary.min * scale).toFixed(1)}" x2="${x(summary.min * scale).toFixed(1)}" y1="${mid - 6}" y2="${mid + 6}" stroke="#222" stroke-width="1.5"/>`,
      `<line x1="${x(summary.max * scale).toFixed(1)}" x2="${x(summary.max * scale).toFixed(1)}" y1="${mid - 6}" y2="${mid + 6}" stroke="#222" stroke-width="1.5"/>`,
      `<text x="${(x(summary.max * scale) + 8).toFixed(1)}" y="${mid + 4}">${escapeXml(formatNumber(summary.median * scale))}${ratio}</text>`,
    );
  });
  const missing = result.contenders.filter((c) => !c.available).map((c) => c.name);
  if (missing.length) {
    parts.push(`<text x="10" y="${height - 6}" fill="#888">not available: ${escapeXml(missing.join(', '))}</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

export function chartFileName(metric: Metric): string {
  return `${metric.key.replace(/[^A-Za-z0-9]+/g, '-')}.svg`;
}

const README_START = '<!-- bench:results:start -->';
const README_END = '<!-- bench:results:end -->';

/** Writes latest.json, latest.md and one SVG per charted metric; returns the paths. */
export function writeResults(result: BenchResult, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    const path = join(outDir, name);
    writeFileSync(path, text);
    written.push(path);
  };
  write('latest.json', `${JSON.stringify(result, null, 2)}\n`);
  const charts = result.metrics.filter((m) => m.chart);
  const md = markdown(result);
  write(
    'latest.md',
    `# socketlab benchmark: latest run\n\n${md}\n${charts.map((m) => `![${m.label}](${chartFileName(m)})`).join('\n')}\n`,
  );
  for (const metric of charts) write(chartFileName(metric), svgChart(result, metric));
  return written;
}

/**
 * Puts the table into the README between its markers: a full run always, a quick run only
 * while the README shows no full run yet.
 */
export function updateReadme(readmePath: string, result: BenchResult, chartDir = 'results/'): boolean {
  if (!existsSync(readmePath)) return false;
  const text = readFileSync(readmePath, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start === -1 || end < start) return false;
  const current = text.slice(start, end);
  if (result.mode !== 'full' && current.includes('mode full')) return false;
  const charts = result.metrics
    .filter((m) => m.chart)
    .map((m) => `![${m.label}](${chartDir}${chartFileName(m)})`)
    .join('\n');
  const next = `${text.slice(0, start)}${README_START}\n${markdown(result)}\n${charts}\n${text.slice(end)}`;
  writeFileSync(readmePath, next);
  return true;
}

/** Soak results go to their own file, so a soak never replaces the latest benchmark table. */
export function writeSoak(result: BenchResult, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'soak.json');
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  const md = join(outDir, 'soak.md');
  writeFileSync(md, `# socketlab soak: latest run\n\n${markdown(result)}`);
  return [json, md];
}
