import { upgradeRequestText } from './raw.js';

/** The timeout of the cases that move a lot of data or wait for several heartbeats. */
export const HEAVY = 60_000;
export const KiB = 1024;

/** A valid upgrade request (echo-protocol offered) padded to exactly `size` bytes. */
export function headOfSize(host: string, size: number): string {
  const base = upgradeRequestText(host, { protocols: ['echo-protocol'], extraHeaders: { 'X-Pad': '' } });
  const padding = size - Buffer.byteLength(base);
  return upgradeRequestText(host, { protocols: ['echo-protocol'], extraHeaders: { 'X-Pad': 'p'.repeat(padding) } });
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
