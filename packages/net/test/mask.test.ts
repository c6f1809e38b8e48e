import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMask } from '../src/mask.js';

function naiveMask(bytes: Uint8Array, key: Uint8Array, start: number, end: number, phase: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = start; i < end; i++) out[i] = bytes[i]! ^ key[(phase + i - start) & 3]!;
  return out;
}

describe('applyMask', () => {
  it('equals the byte-at-a-time XOR at any alignment, range and key phase, and undoes itself', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(),
        fc.nat(),
        fc.nat(3),
        (data, key, shift, a, b, phase) => {
          // Shifting inside a larger buffer puts the view at every byte alignment.
          const backing = Buffer.alloc(data.length + 8);
          const buf = backing.subarray(shift, shift + data.length);
          buf.set(data);
          const start = data.length === 0 ? 0 : a % (data.length + 1);
          const end = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
          const expected = naiveMask(data, key, start, end, phase);
          applyMask(buf, key, start, end, phase);
          expect(Buffer.from(buf).equals(Buffer.from(expected))).toBe(true);
          applyMask(buf, key, start, end, phase);
          expect(Buffer.from(buf).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: 3_000 },
    );
  });
});
