import { endianness } from 'node:os';

/*
 * RFC 6455 section 5.3: every byte of a client's payload is XORed with the 4-byte mask
 * key, byte i with key[i % 4]. Three tiers, by length:
 *
 * - under WORD_THRESHOLD (160 bytes, the contract's small frames): the byte loop, four bytes a turn;
 * - up to SIMD_THRESHOLD: 32-bit words over the aligned middle (a quarter of the iterations);
 * - longer: 64 bytes a turn (four 16-byte SIMD lanes) in WebAssembly, in 16 KiB blocks
 *   through its memory (copy in, XOR, copy out: the copies are native memcpy, and the
 *   whole runs about five times faster than the word loop; a native addon such as
 *   bufferutil, which needs no copies, is still about twice as fast on long payloads).
 *
 * The WebAssembly module is assembled by hand below (151 bytes); where SIMD is not
 * available the word loop does everything.
 */

const LITTLE_ENDIAN = endianness() === 'LE';
/** Below this many bytes the word view costs more than it saves (the unrolled byte loop wins). */
const WORD_THRESHOLD = 160;
/** From this many bytes the copy into WebAssembly memory pays for itself. */
const SIMD_THRESHOLD = 1024;
/** Long ranges go through in blocks this size: small enough to stay in cache between the copies. */
const SIMD_BLOCK = 16 * 1024;

/**
 * The module, as WAT:
 *
 *   (module
 *     (memory (export "mem") 1)
 *     (func (export "xor") (param $ptr i32) (param $len i32) (param $mask i32)
 *       (local $end i32) (local $m v128)
 *       (local.set $m (i32x4.splat (local.get $mask)))
 *       (local.set $end (i32.add (local.get $ptr) (local.get $len)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $ptr) (local.get $end)))
 *         ;; four 16-byte lanes per turn, at offsets 0, 16, 32, 48:
 *         (v128.store offset=0 (local.get $ptr)
 *           (v128.xor (v128.load offset=0 (local.get $ptr)) (local.get $m)))
 *         ...
 *         (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
 *         (br 0)))))
 *
 * `len` is a multiple of 64; the mask word is the 4 key bytes in memory order.
 */
function xorModule(): Uint8Array {
  const section = (id: number, bytes: number[]): number[] => [id, bytes.length, ...bytes];
  const name = (text: string): number[] => [text.length, ...Buffer.from(text)];
  // v128.store offset=o ($ptr, v128.xor(v128.load offset=o ($ptr), $m)); memarg = align 0, offset o.
  const lane = (o: number): number[] => [0x20, 0, 0x20, 0, 0xfd, 0x00, 0, o, 0x20, 4, 0xfd, 0x51, 0xfd, 0x0b, 0, o];
  // biome-ignore format: one instruction group per line, with its meaning.
  const body = [
    0x02, 0x01, 0x7f, 0x01, 0x7b, // locals: i32 $end, v128 $m
    0x20, 2, 0xfd, 0x11, 0x21, 4, // $m = i32x4.splat($mask)
    0x20, 0, 0x20, 1, 0x6a, 0x21, 3, // $end = $ptr + $len
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0, 0x20, 3, 0x4f, 0x0d, 1, // br_if 1 ($ptr >= $end)
    ...lane(0), ...lane(16), ...lane(32), ...lane(48),
    0x20, 0, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0, // $ptr += 64 (signed LEB128 of 64 takes two bytes)
    0x0c, 0, 0x0b, 0x0b, 0x0b, // br 0, end loop, end block, end function
  ];
  // biome-ignore format: one section per line.
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]), // type 0: (i32 i32 i32) -> ()
    ...section(3, [1, 0]), // one function, of type 0
    ...section(5, [1, 0, 1]), // one memory, one page
    ...section(7, [2, ...name('xor'), 0, 0, ...name('mem'), 2, 0]), // exports
    ...section(10, [1, body.length, ...body]), // code (every size here is under 128: one LEB128 byte)
  ]);
}

/** Bytes per turn of the WebAssembly loop. */
const SIMD_STEP = 64;

interface Simd {
  xor(ptr: number, length: number, mask: number): void;
  /** A Buffer over the WebAssembly memory, so both copies are Buffer.copy (no views made). */
  heap: Buffer;
}

/** The little of the WebAssembly API used here (TypeScript's ES2023 lib declares none of it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { xor: Simd['xor']; mem: { buffer: ArrayBuffer } } };
}

function loadSimd(): Simd | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    const { xor, mem } = new wasm.Instance(new wasm.Module(xorModule())).exports;
    // The memory never grows (blocks are one page), so this view stays valid.
    return { xor, heap: Buffer.from(mem.buffer, 0, SIMD_BLOCK) };
  } catch {
    // No WebAssembly SIMD here: the word loop handles every length.
    return undefined;
  }
}

const simd = loadSimd();

/**
 * A mask key as one number: key byte i in bits 8i to 8i+7, as `readUInt32LE` reads the four
 * key bytes of a frame header. A number, not a 4-byte Buffer, so that a receiver holds no
 * buffer of its own between frames and a sender takes no view per frame.
 */
export type MaskKey = number;

/** The MaskKey of four key bytes. */
export function maskKeyOf(key: Uint8Array): MaskKey {
  return (
    ((key[0] as number) | ((key[1] as number) << 8) | ((key[2] as number) << 16) | ((key[3] as number) << 24)) >>> 0
  );
}

/** Key byte `phase` (0 to 3). */
function keyByte(key: MaskKey, phase: number): number {
  return (key >>> (phase << 3)) & 0xff;
}

/** The key bytes starting at `phase`, in memory order, as a little-endian 32-bit word (WebAssembly's order). */
function littleEndianWord(key: MaskKey, phase: number): number {
  const shift = (phase & 3) << 3;
  return shift === 0 ? key | 0 : (key >>> shift) | (key << (32 - shift));
}

/** The key bytes starting at `phase`, in memory order, as a native-endian word (what an Int32Array reads). */
function maskWord(key: MaskKey, phase: number): number {
  const rotated = littleEndianWord(key, phase);
  if (LITTLE_ENDIAN) return rotated;
  return ((rotated & 0xff) << 24) | ((rotated & 0xff00) << 8) | ((rotated >>> 8) & 0xff00) | ((rotated >>> 24) & 0xff);
}

/**
 * XORs `buf[start, end)` in place with `key`, where `buf[start]` takes key byte `phase`
 * (the offset of `start` within the frame's payload, mod 4).
 */
export function applyMask(buf: Buffer, key: Uint8Array, start: number, end: number, phase = 0): void {
  mask(buf, maskKeyOf(key), start, end, phase);
}

/** `applyMask` with the key as a MaskKey: the receiver's and sender's path. */
export function mask(buf: Buffer, key: MaskKey, start: number, end: number, phase = 0): void {
  let i = start;
  let p = phase & 3;
  const length = end - start;
  if (simd !== undefined && length >= SIMD_THRESHOLD) {
    // Blocks of whole 64-byte steps; a block is a multiple of 4, so the phase is unchanged.
    const word = littleEndianWord(key, p);
    const { heap, xor } = simd;
    let left = length - (length % SIMD_STEP);
    while (left > 0) {
      const n = Math.min(left, SIMD_BLOCK);
      buf.copy(heap, 0, i, i + n);
      xor(0, n, word);
      heap.copy(buf, i, 0, n);
      i += n;
      left -= n;
    }
    if (end - i >= WORD_THRESHOLD) {
      mask(buf, key, i, end, p);
      return;
    }
  } else if (length >= WORD_THRESHOLD) {
    // Bytes until the address is 4-aligned, then whole words.
    while ((buf.byteOffset + i) & 3) {
      buf[i] = (buf[i] as number) ^ keyByte(key, p);
      p = (p + 1) & 3;
      i++;
    }
    const words = (end - i) >>> 2;
    const view = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    const word = maskWord(key, p);
    for (let w = 0; w < words; w++) view[w] = (view[w] as number) ^ word;
    i += words << 2;
  }
  // Short ranges and the tail of long ones: four bytes a turn, the key bytes in phase order
  // (for the contract's small frames this beats making a word view: about 65 against 100 ns
  // for 90 bytes).
  const k0 = keyByte(key, p);
  const k1 = keyByte(key, (p + 1) & 3);
  const k2 = keyByte(key, (p + 2) & 3);
  const k3 = keyByte(key, (p + 3) & 3);
  for (; i + 3 < end; i += 4) {
    buf[i] = (buf[i] as number) ^ k0;
    buf[i + 1] = (buf[i + 1] as number) ^ k1;
    buf[i + 2] = (buf[i + 2] as number) ^ k2;
    buf[i + 3] = (buf[i + 3] as number) ^ k3;
  }
  if (i < end) buf[i] = (buf[i] as number) ^ k0;
  if (i + 1 < end) buf[i + 1] = (buf[i + 1] as number) ^ k1;
  if (i + 2 < end) buf[i + 2] = (buf[i + 2] as number) ^ k2;
}

/**
 * Copies `src[start, end)` to `dst` at `at`, masked, with `src[start]` taking key byte
 * `phase`. With SIMD the XOR happens on the way through WebAssembly memory, so the bytes
 * are copied twice in all rather than three times.
 */
export function copyMasked(
  src: Buffer,
  start: number,
  end: number,
  dst: Buffer,
  at: number,
  key: MaskKey,
  phase = 0,
): void {
  const length = end - start;
  if (simd === undefined || length < SIMD_THRESHOLD) {
    src.copy(dst, at, start, end);
    mask(dst, key, at, at + length, phase);
    return;
  }
  const word = littleEndianWord(key, phase);
  const { heap, xor } = simd;
  const steps = length - (length % SIMD_STEP);
  let done = 0;
  while (done < steps) {
    const n = Math.min(steps - done, SIMD_BLOCK);
    src.copy(heap, 0, start + done, start + done + n);
    xor(0, n, word);
    heap.copy(dst, at + done, 0, n);
    done += n;
  }
  src.copy(dst, at + done, start + done, end);
  mask(dst, key, at + done, at + length, phase + done);
}

/** Whether the WebAssembly SIMD path is in use (the benchmark reports it). */
export const simdMasking = simd !== undefined;
