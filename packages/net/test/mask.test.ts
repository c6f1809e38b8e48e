import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMask, copyMasked, maskKeyOf, simdMasking } from '../src/mask.js';

function naiveMask(bytes: Uint8Array, key: Uint8Array, start: number, end: number, phase: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = start; i < end; i++) out[i] = bytes[i]! ^ key[(phase + i - start) & 3]!;
  return out;
}

describe('applyMask', () => {
  // Thousands of runs over up to 140 KB: about 2 s alone, far more on a loaded 2-core machine.
  it(
    'equals the byte-at-a-time XOR at any alignment, range and key phase, and undoes itself',
    { timeout: 60_000 },
    () => {
      // Lengths cross every tier: bytes, 32-bit words, and WebAssembly SIMD in 64 KiB blocks.
      expect(simdMasking).toBe(true);
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc.uint8Array({ minLength: 500, maxLength: 2_000 }),
            fc
              .integer({ min: 65_000, max: 140_000 })
              .map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff)),
          ),
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
        { numRuns: 1_500 },
      );
    },
  );

  it('copyMasked equals a copy then the byte-at-a-time XOR, at any offsets and phase', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 500, maxLength: 70_000 })),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(7),
        fc.nat(3),
        (data, key, srcShift, dstShift, phase) => {
          const src = Buffer.alloc(data.length + srcShift + 3);
          src.set(data, srcShift);
          const dst = Buffer.alloc(data.length + dstShift + 5, 0xee);
          copyMasked(src, srcShift, srcShift + data.length, dst, dstShift, maskKeyOf(key), phase);
          const expected = naiveMask(data, key, 0, data.length, phase);
          expect(dst.subarray(dstShift, dstShift + data.length).equals(Buffer.from(expected))).toBe(true);
          // Nothing outside the target range was touched, and the source is unchanged.
          expect(dst.subarray(0, dstShift).every((byte) => byte === 0xee)).toBe(true);
          expect(dst.subarray(dstShift + data.length).every((byte) => byte === 0xee)).toBe(true);
          expect(src.subarray(srcShift, srcShift + data.length).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
