/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4): every line must be
 * a `# HELP`, a `# TYPE`, another comment, blank, or a sample `name{label="value",...} value
 * [timestamp]`; a family's TYPE comes once and before its samples; histogram series end in
 * `_bucket` (with `le`), `_sum` or `_count`. Anything else throws, naming the line.
 * prom-client writes this format but has no reader.
 */

import { httpGet } from './http.js';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// NaN in any case: prom-client writes `Nan` (an event-loop lag with no sample yet) and
// Prometheus reads values with Go's ParseFloat, which takes every case.
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]Inf|[Nn][Aa][Nn])$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  /** The sum of every sample of `name` whose labels include `labels`; 0 when there is none. */
  value(name: string, labels?: Record<string, string>): number;
}

/**
 * GET `<base>metrics` on a fresh connection (a server app's public port or its --metrics-port),
 * checked to be a 200 in the text format, parsed strictly.
 */
export async function scrapeMetrics(base: string): Promise<Exposition> {
  const answer = await httpGet(`${base}metrics`);
  if (answer.status !== 200) throw new Error(`GET ${base}metrics: ${answer.status}\n${answer.body}`);
  if (!/^text\/plain; version=0\.0\.4/.test(answer.type)) {
    throw new Error(`GET ${base}metrics: content type ${answer.type}, not the text format 0.0.4`);
  }
  return parsePrometheusText(answer.body);
}

export function parsePrometheusText(text: string): Exposition {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!match) return;
      const [, keyword, name = '', rest = ''] = match;
      if (!NAME.test(name)) fail('bad metric name');
      if (keyword === 'HELP') {
        if (helps.has(name)) fail('second HELP');
        helps.add(name);
        return;
      }
      if (!TYPES.has(rest)) fail('unknown type');
      if (types.has(name)) fail('second TYPE');
      if (seen.has(name)) fail('TYPE after samples');
      types.set(name, rest);
      return;
    }
    const sample = parseSample(line, fail);
    const family = familyOf(sample.name, types);
    seen.add(family);
    if (types.get(family) === 'histogram') {
      if (!/_(bucket|sum|count)$/.test(sample.name)) fail('histogram series must end in _bucket, _sum or _count');
      if (sample.name.endsWith('_bucket') && sample.labels.le === undefined) fail('bucket without le');
    }
    samples.push(sample);
  });
  return {
    samples,
    types,
    value: (name, labels = {}) =>
      samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0),
  };
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return fail('no metric name');
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const label = /^([^=]*)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
      if (!label) return fail('bad label');
      const [all, key = '', raw = '', comma] = label;
      if (!LABEL_NAME.test(key)) fail('bad label name');
      if (key in labels) fail('repeated label');
      labels[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(all.length);
      if (!comma && !rest.startsWith('}')) fail('labels not separated by a comma');
    }
    rest = rest.slice(1);
  }
  const parts = rest.split(' ');
  if (parts[0] !== '' || parts.length < 2 || parts.length > 3) return fail('expected " value [timestamp]"');
  const [, value = '', timestamp] = parts;
  if (!VALUE.test(value)) fail('bad value');
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) fail('bad timestamp');
  return { name, labels, value: Number(value.replace('Inf', 'Infinity')) };
}

/** The family a series belongs to: itself, or a histogram/summary it is a series of. */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.has(base) ? base : name;
}
