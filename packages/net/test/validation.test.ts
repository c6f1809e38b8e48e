import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UTF8_ACCEPT, UTF8_REJECT, Utf8Validator, utf8Step } from '../src/validation.js';

/** Random splits of `length` into ascending cut points. */
const cuts = (length: number) => fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 8 });

/** Bytes that are UTF-8 often enough to matter: valid text with random bytes spliced in. */
const mostlyText = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 32 }).map((text) => new Uint8Array(Buffer.from(text))),
  fc
    .tuple(fc.string({ unit: 'binary', maxLength: 24 }), fc.uint8Array({ maxLength: 3 }), fc.nat())
    .map(([text, noise, at]) => {
      const bytes = Buffer.from(text);
      const cut = bytes.length === 0 ? 0 : at % bytes.length;
      return new Uint8Array(Buffer.concat([bytes.subarray(0, cut), noise, bytes.subarray(cut)]));
    }),
);

/** The index of the first byte after which no continuation can make the bytes UTF-8, or -1. */
function firstImpossible(bytes: Uint8Array): number {
  let state = UTF8_ACCEPT;
  for (let i = 0; i < bytes.length; i++) {
    state = utf8Step(state, bytes, i, i + 1);
    if (state === UTF8_REJECT) return i;
  }
  return -1;
}

describe('UTF-8 DFA', () => {
  it('agrees with Node isUtf8 on whole buffers', () => {
    fc.assert(
      fc.property(mostlyText, (bytes) => {
        const state = utf8Step(UTF8_ACCEPT, bytes, 0, bytes.length);
        expect(state === UTF8_ACCEPT).toBe(isUtf8(bytes));
      }),
      { numRuns: 5_000 },
    );
  });

  it.each([
    ['an overlong slash', [0xc0, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte', [0x80]],
    ['0xFF', [0xff]],
  ])('rejects %s at its first impossible byte', (_name, bytes) => {
    const at = firstImpossible(Uint8Array.from(bytes));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThanOrEqual(1);
  });
});

describe('Utf8Validator (incremental)', () => {
  it('fails on the piece holding the first impossible byte, and ends complete exactly for UTF-8', () => {
    fc.assert(
      fc.property(
        mostlyText.chain((bytes) => fc.tuple(fc.constant(bytes), cuts(bytes.length))),
        ([bytes, points]) => {
          const bounds = [0, ...[...points].sort((a, b) => a - b), bytes.length];
          const validator = new Utf8Validator();
          const bad = firstImpossible(bytes);
          let failedAt = -1;
          for (let i = 0; i + 1 < bounds.length; i++) {
            const start = bounds[i]!;
            const end = bounds[i + 1]!;
            if (!validator.update(bytes, start, end)) {
              failedAt = end;
              // The failing piece contains the first impossible byte: not earlier, not later.
              expect(bad).toBeGreaterThanOrEqual(start);
              expect(bad).toBeLessThan(end);
              break;
            }
          }
          if (bad >= 0) expect(failedAt).toBeGreaterThan(0);
          else expect(validator.complete).toBe(isUtf8(bytes));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('carries a character split across three pieces', () => {
    const bytes = Buffer.from('a🚀b');
    const validator = new Utf8Validator();
    expect(validator.update(bytes, 0, 2)).toBe(true);
    expect(validator.complete).toBe(false);
    expect(validator.update(bytes, 2, 4)).toBe(true);
    expect(validator.update(bytes, 4, bytes.length)).toBe(true);
    expect(validator.complete).toBe(true);
  });
});
