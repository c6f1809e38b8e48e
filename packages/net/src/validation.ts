import { isUtf8 } from 'node:buffer';

/*
 * Incremental UTF-8 validation (RFC 3629) as a DFA, after Bjoern Hoehrmann's decoder
 * (http://bjoern.hoehrmann.de/utf-8/decoder/dfa/), rejecting overlongs, surrogates and
 * code points above U+10FFFF at the first byte that makes a sequence impossible. That is
 * what lets a text message fail with 1007 as soon as the bad byte arrives, even in the
 * middle of a fragment (Autobahn 6.4.x, "fail fast"), instead of at the message's end.
 */

/** Byte -> character class. */
// biome-ignore format: a 16x16 table reads best as one.
const CLASS = Uint8Array.from([
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,
  7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7, 7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,
  8,8,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
  10,3,3,3,3,3,3,3,3,3,3,3,3,4,3,3, 11,6,6,6,5,8,8,8,8,8,8,8,8,8,8,8,
]);

/** (state + class) -> next state; states are multiples of 12, 0 accepts, 12 rejects for good. */
// biome-ignore format: the transition table reads best as rows of 12.
const TRANSITION = Uint8Array.from([
  0,12,24,36,60,96,84,12,12,12,48,72, 12,12,12,12,12,12,12,12,12,12,12,12,
  12,0,12,12,12,12,12,0,12,0,12,12, 12,24,12,12,12,12,12,24,12,24,12,12,
  12,12,12,12,12,12,12,24,12,12,12,12, 12,24,12,12,12,12,12,12,12,24,12,12,
  12,12,12,12,12,12,12,36,12,36,12,12, 12,36,12,12,12,12,12,36,12,36,12,12,
  12,36,12,12,12,12,12,12,12,12,12,12,
]);

export const UTF8_ACCEPT = 0;
/** Pieces shorter than this go through the DFA alone. */
const NATIVE_THRESHOLD = 32;
export const UTF8_REJECT = 12;

/** Runs the DFA over `bytes[start, end)` from `state`; stops early once rejected. */
export function utf8Step(state: number, bytes: Uint8Array, start: number, end: number): number {
  let s = state;
  for (let i = start; i < end && s !== UTF8_REJECT; i++) {
    s = TRANSITION[s + CLASS[bytes[i] as number]!]!;
  }
  return s;
}

/**
 * Validates a text message as its bytes arrive, in any pieces. Whole characters are
 * checked by Node's native `isUtf8`; only the few bytes of a character cut by a piece
 * boundary go through the DFA, so the per-byte JS loop never runs over a whole message.
 */
export class Utf8Validator {
  private state = UTF8_ACCEPT;

  /** Feeds `bytes[start, end)`; false once the bytes so far cannot be UTF-8 whatever follows. */
  update(bytes: Uint8Array, start: number, end: number): boolean {
    let from = start;
    // Finish a character begun in an earlier piece (at most 3 bytes).
    while (this.state !== UTF8_ACCEPT && from < end) {
      this.state = TRANSITION[this.state + CLASS[bytes[from] as number]!]!;
      if (this.state === UTF8_REJECT) return false;
      from++;
    }
    if (from === end) return true;
    if (end - from < NATIVE_THRESHOLD) {
      // A few bytes: the DFA beats the cost of a view and a native call.
      this.state = utf8Step(UTF8_ACCEPT, bytes, from, end);
      return this.state !== UTF8_REJECT;
    }
    const cut = lastBoundary(bytes, from, end);
    if (cut > from && !isUtf8(bytes.subarray(from, cut))) {
      this.state = UTF8_REJECT;
      return false;
    }
    this.state = utf8Step(UTF8_ACCEPT, bytes, cut, end);
    return this.state !== UTF8_REJECT;
  }

  /** True when the bytes so far end on a character boundary: a message may end here. */
  get complete(): boolean {
    return this.state === UTF8_ACCEPT;
  }

  reset(): void {
    this.state = UTF8_ACCEPT;
  }
}

/**
 * The index after the last character that could be complete in `bytes[from, end)`: a
 * lead byte in the last three positions whose sequence runs past `end` starts the tail
 * the DFA carries over. Anything malformed is left before the cut for `isUtf8` to reject.
 */
function lastBoundary(bytes: Uint8Array, from: number, end: number): number {
  const stop = Math.max(from, end - 3);
  for (let i = end - 1; i >= stop; i--) {
    const byte = bytes[i] as number;
    if (byte < 0x80) return end;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return i + length > end ? i : end;
    }
  }
  return end;
}
