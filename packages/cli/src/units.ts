import { MAX_TIMER_MS } from '@socketlab/contract';

/** Parsers for human-friendly flag values; each throws a RangeError that says what it wanted. */

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** `1048576`, `512KiB`, `1MiB`, `1.5MB` -> bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const factor = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new RangeError(`"${text}" is not a size (examples: 1048576, 512KiB, 1MiB)`);
  }
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes <= 0) throw new RangeError(`"${text}" must be more than 0 bytes`);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000 };

/** `500` (ms), `500ms`, `30s`, `2m` -> milliseconds, at most about 24.8 days. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const factor = match ? DURATION_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new RangeError(`"${text}" is not a duration (examples: 500ms, 30s, 2m; a bare number is ms)`);
  }
  const ms = Math.round(Number(match[1]) * factor);
  if (ms > MAX_TIMER_MS) throw new RangeError(`"${text}" is too long (at most ${MAX_TIMER_MS} ms, about 24.8 days)`);
  return ms;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`"${text}" is not a port (0-65535; 0 picks a free one)`);
  }
  return port;
}
