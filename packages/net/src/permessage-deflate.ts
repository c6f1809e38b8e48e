import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import type { PerMessageDeflateOptions } from '@socketlab/contract';
import { type ExtensionOffer, formatExtension, parseExtensions } from './extension.js';

/*
 * permessage-deflate (RFC 7692): the negotiation (section 7.1) and the per-message DEFLATE with
 * its limits (section 7.2). node:zlib does the DEFLATE itself; everything around it is here.
 *
 * What this side keeps, and why (the numbers are in the README):
 * - It never uses context takeover for what it compresses, and says so in every answer
 *   (`server_no_context_takeover`, which RFC 7692 7.1.1.1 lets a server add unasked). Every
 *   outgoing message is compressed on its own, by a compressor borrowed from a small
 *   process-wide pool and reset after the message: no connection holds a compressor (about
 *   256 KiB at the default window and memLevel), and a broadcast is compressed once for every
 *   recipient.
 * - A decompressor is created with the first compressed message and, once the connection has
 *   been idle for a sweep or two, released: what the peer's next messages may refer back to (its
 *   context takeover) is kept as a copy of the last window's worth of output, at most 2^bits
 *   bytes and usually far less, and handed to the next decompressor as its dictionary.
 * - Every zlib operation goes through one limiter per process (`concurrencyLimit`), so a
 *   thousand connections compressing at once queue instead of each growing zlib state.
 */

export const EXTENSION_NAME = 'permessage-deflate';

/** What was agreed, from both sides' point of view: all four parameters resolved. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

interface OfferParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: offered without a value (the client can limit its window, any value). */
  clientMaxWindowBits: number | true | undefined;
}

/** RFC 7692 7.1.2: a window size is 8 to 15, in decimal with no leading zero. */
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * The parameters of one offer or answer (RFC 7692 7.1), or the reason it is unusable: an
 * unknown parameter, a repeated one, or an invalid value make the whole offer unusable.
 */
function readParams(params: ExtensionOffer['params']): OfferParams | string {
  const read: OfferParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `${name} appears twice`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return `${name} takes no value`;
        if (name === 'server_no_context_takeover') read.serverNoContextTakeover = true;
        else read.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return `${name} must be 8 to 15`;
        read.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return `${name} must be 8 to 15`;
        read.clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return read;
}

export interface Acceptance {
  params: DeflateParams;
  /** The Sec-WebSocket-Extensions value of the 101. */
  response: string;
}

/**
 * The server's choice (RFC 7692 7.1): the first permessage-deflate offer it can honour, in the
 * client's order, or undefined (the upgrade then goes on uncompressed). An offer is declined
 * when it is malformed, or asks for a client window limit it cannot get (this server limits
 * the client's window and the offer has no `client_max_window_bits`).
 */
export function acceptOffer(
  header: string | undefined,
  config: Required<PerMessageDeflateOptions>,
): Acceptance | undefined {
  if (header === undefined) return undefined;
  const parsed = parseExtensions(header);
  if (!parsed.ok) return undefined;
  for (const offer of parsed.offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    const read = readParams(offer.params);
    if (typeof read === 'string') continue;
    if (config.clientMaxWindowBits < 15 && read.clientMaxWindowBits === undefined) continue;
    const serverMaxWindowBits = Math.min(config.serverMaxWindowBits, read.serverMaxWindowBits ?? 15);
    const clientMaxWindowBits =
      read.clientMaxWindowBits === undefined
        ? 15
        : Math.min(config.clientMaxWindowBits, read.clientMaxWindowBits === true ? 15 : read.clientMaxWindowBits);
    const clientNoContextTakeover = config.clientNoContextTakeover || read.clientNoContextTakeover;
    const answer: ExtensionOffer = { name: EXTENSION_NAME, params: [['server_no_context_takeover', true]] };
    if (clientNoContextTakeover) answer.params.push(['client_no_context_takeover', true]);
    if (read.serverMaxWindowBits !== undefined || serverMaxWindowBits < 15) {
      answer.params.push(['server_max_window_bits', String(serverMaxWindowBits)]);
    }
    if (clientMaxWindowBits < 15) answer.params.push(['client_max_window_bits', String(clientMaxWindowBits)]);
    return {
      params: { serverNoContextTakeover: true, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits },
      response: formatExtension(answer),
    };
  }
  return undefined;
}

/** The client's offer: one permessage-deflate offer with the configured parameters. */
export function clientOffer(config: Required<PerMessageDeflateOptions>): string {
  const offer: ExtensionOffer = { name: EXTENSION_NAME, params: [] };
  if (config.serverNoContextTakeover) offer.params.push(['server_no_context_takeover', true]);
  if (config.clientNoContextTakeover) offer.params.push(['client_no_context_takeover', true]);
  if (config.serverMaxWindowBits < 15)
    offer.params.push(['server_max_window_bits', String(config.serverMaxWindowBits)]);
  // Always offered: the server may limit this client's window.
  offer.params.push([
    'client_max_window_bits',
    config.clientMaxWindowBits < 15 ? String(config.clientMaxWindowBits) : true,
  ]);
  return formatExtension(offer);
}

export type AnswerVerdict = { ok: true; params: DeflateParams } | { ok: false; reason: string };

/** The client's check of the server's answer to its offer (RFC 7692 7.1): a bad one fails the handshake. */
export function checkAnswer(header: string, config: Required<PerMessageDeflateOptions>): AnswerVerdict {
  const parsed = parseExtensions(header);
  if (!parsed.ok) return { ok: false, reason: `malformed Sec-WebSocket-Extensions: ${parsed.reason}` };
  if (parsed.offers.length !== 1 || parsed.offers[0]!.name !== EXTENSION_NAME) {
    return { ok: false, reason: `the server selected an extension not offered: ${header}` };
  }
  const read = readParams(parsed.offers[0]!.params);
  if (typeof read === 'string') return { ok: false, reason: `bad permessage-deflate answer: ${read}` };
  if (read.clientMaxWindowBits === true) {
    return { ok: false, reason: 'bad permessage-deflate answer: client_max_window_bits needs a value' };
  }
  if (config.serverNoContextTakeover && !read.serverNoContextTakeover) {
    return { ok: false, reason: 'bad permessage-deflate answer: server_no_context_takeover was asked for' };
  }
  if (config.serverMaxWindowBits < 15 && (read.serverMaxWindowBits ?? 15) > config.serverMaxWindowBits) {
    return { ok: false, reason: 'bad permessage-deflate answer: server_max_window_bits over the offer' };
  }
  if (read.clientMaxWindowBits !== undefined && read.clientMaxWindowBits > config.clientMaxWindowBits) {
    return { ok: false, reason: 'bad permessage-deflate answer: client_max_window_bits over the offer' };
  }
  return {
    ok: true,
    params: {
      serverNoContextTakeover: read.serverNoContextTakeover,
      clientNoContextTakeover: read.clientNoContextTakeover || config.clientNoContextTakeover,
      serverMaxWindowBits: read.serverMaxWindowBits ?? 15,
      clientMaxWindowBits: read.clientMaxWindowBits ?? config.clientMaxWindowBits,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DEFLATE, bounded

/** RFC 7692 7.2.1: the end of a sync flush, removed from every compressed message and put back to inflate it. */
const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** At most this many zlib operations run at once in the process (one queue per limit value). */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  run(job: () => void): void {
    if (this.running < this.limit) {
      this.running++;
      job();
    } else {
      this.waiting.push(job);
    }
  }

  done(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next();
  }
}

const limiters = new Map<number, Limiter>();
function limiterFor(limit: number): Limiter {
  let limiter = limiters.get(limit);
  if (limiter === undefined) {
    limiter = new Limiter(limit);
    limiters.set(limit, limiter);
  }
  return limiter;
}

/** zlib's raw deflate cannot use a 256-byte window; 9 bits still never reaches further back than 256 bytes. */
const deflateBits = (bits: number): number => Math.max(9, bits);

/** Idle zlib state is released by one sweep timer for the whole process. */
const SWEEP_INTERVAL = 2_000;
const swept = new Set<{ sweep(): boolean }>();
let sweepTimer: NodeJS.Timeout | undefined;
function watchIdle(holder: { sweep(): boolean }): void {
  swept.add(holder);
  if (sweepTimer !== undefined) return;
  sweepTimer = setInterval(() => {
    // `sweep` is true once the holder has nothing left to release.
    for (const each of swept) if (each.sweep()) swept.delete(each);
    if (swept.size === 0) {
      clearInterval(sweepTimer);
      sweepTimer = undefined;
    }
  }, SWEEP_INTERVAL);
  sweepTimer.unref();
}

type DeflateDone = (error: Error | undefined, payload: Buffer) => void;

/**
 * Compressors shared by every connection with the same window, level and memLevel: each
 * message borrows one, is compressed on its own (sync flush, tail removed), and the compressor
 * is reset and given back. At most `concurrencyLimit` are kept; unused ones are closed.
 */
class DeflatePool {
  private readonly idle: DeflateRaw[] = [];
  private used = false;
  private readonly limiter: Limiter;

  constructor(
    private readonly windowBits: number,
    private readonly level: number,
    private readonly memLevel: number,
    private readonly keep: number,
  ) {
    this.limiter = limiterFor(keep);
  }

  compress(data: Buffer, done: DeflateDone): void {
    this.limiter.run(() => {
      this.used = true;
      const deflate =
        this.idle.pop() ??
        createDeflateRaw({
          windowBits: deflateBits(this.windowBits),
          level: this.level,
          memLevel: this.memLevel,
          // Every write ends in a sync flush: one zlib operation per message, not a write then a flush.
          flush: constants.Z_SYNC_FLUSH,
        });
      const chunks: Buffer[] = [];
      let length = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        length += chunk.length;
      };
      const onError = (error: Error): void => {
        deflate.off('data', onData);
        deflate.close();
        this.limiter.done();
        done(error, EMPTY);
      };
      deflate.on('data', onData);
      deflate.once('error', onError);
      deflate.write(data, () => {
        deflate.off('data', onData);
        deflate.off('error', onError);
        let out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
        if (out.length >= 4 && out.subarray(out.length - 4).equals(SYNC_FLUSH_TAIL)) out = out.subarray(0, -4);
        deflate.reset();
        if (this.idle.length < this.keep) this.idle.push(deflate);
        else deflate.close();
        watchIdle(this);
        this.limiter.done();
        done(undefined, out);
      });
    });
  }

  /** Closes the compressors nobody used since the last sweep. */
  sweep(): boolean {
    if (this.used) {
      this.used = false;
      return false;
    }
    for (const deflate of this.idle.splice(0)) deflate.close();
    return true;
  }
}

const pools = new Map<string, DeflatePool>();
function poolFor(windowBits: number, config: Required<PerMessageDeflateOptions>): DeflatePool {
  const key = `${deflateBits(windowBits)}:${config.level}:${config.memLevel}:${config.concurrencyLimit}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new DeflatePool(windowBits, config.level, config.memLevel, config.concurrencyLimit);
    pools.set(key, pool);
  }
  return pool;
}

export type InflateResult =
  | { kind: 'more' }
  | { kind: 'message'; data: Buffer }
  | { kind: 'tooBig' }
  | { kind: 'error'; reason: string };

/**
 * One connection's permessage-deflate state. `role` is this side's: a server inflates what
 * the client compressed (client_* parameters) and deflates with the server_* ones.
 */
export class PerMessageDeflate {
  readonly threshold: number;
  private readonly maxPayload: number;
  private readonly inflateBits: number;
  private readonly peerTakesOver: boolean;
  private readonly limiter: Limiter;
  private readonly pool: DeflatePool;

  private inflate: InflateRaw | undefined;
  /** Output of the message being inflated. */
  private output: Buffer[] = [];
  private outputLength = 0;
  private tooBig = false;
  private released = false;
  private inflateError: Error | undefined;
  private busy = false;
  private usedSinceSweep = false;
  /** The peer's window so far (copies of message tails), while it may refer back to it. */
  private history: Buffer[] = [];
  private historyLength = 0;
  /** Set once released while idle: the dictionary the next decompressor starts from. */
  private dictionary: Buffer | undefined;
  private readonly windowSize: number;

  constructor(
    readonly params: DeflateParams,
    role: 'server' | 'client',
    config: Required<PerMessageDeflateOptions>,
    maxPayload: number,
  ) {
    this.threshold = config.threshold;
    this.maxPayload = maxPayload;
    this.inflateBits = role === 'server' ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.peerTakesOver = role === 'server' ? !params.clientNoContextTakeover : !params.serverNoContextTakeover;
    this.windowSize = 1 << this.inflateBits;
    this.limiter = limiterFor(config.concurrencyLimit);
    this.pool = poolFor(role === 'server' ? params.serverMaxWindowBits : params.clientMaxWindowBits, config);
  }

  /** The compressor's key: recipients whose keys match can share one compressed frame. */
  get deflateKey(): DeflatePool {
    return this.pool;
  }

  /** Compresses one whole message (no context takeover: see the top of this file). */
  compress(data: Buffer, done: DeflateDone): void {
    this.pool.compress(data, done);
  }

  /** Every byte zlib has inflated on this connection: what a bomb made it produce before it was stopped. */
  inflatedTotal = 0;

  /** Whether a decompressor is held now (false once released while idle). */
  get holdsInflater(): boolean {
    return this.inflate !== undefined;
  }

  /** Bytes held for the message being inflated and the window kept for the peer. */
  get bufferedBytes(): number {
    return this.outputLength + this.historyLength + (this.dictionary?.length ?? 0);
  }

  /**
   * Inflates one frame of a compressed message (`fin`: its last). The message limit is applied
   * to the inflated bytes as they come out of zlib: past it, zlib is stopped at once, so a
   * small frame that would inflate to gigabytes costs about the limit. One call at a time.
   */
  decompress(data: Buffer, fin: boolean, done: (result: InflateResult) => void): void {
    this.limiter.run(() => {
      if (this.released) {
        this.limiter.done();
        done({ kind: 'error', reason: 'connection closed' });
        return;
      }
      this.busy = true;
      this.usedSinceSweep = true;
      const inflate = this.inflate ?? this.createInflate();
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        this.busy = false;
        this.limiter.done();
        done(this.frameResult(fin));
      };
      this.settleNow = settle;
      // One zlib operation per frame: the inflater sync-flushes every write, and the last
      // frame goes with the tail appended.
      inflate.write(fin ? Buffer.concat([data, SYNC_FLUSH_TAIL]) : data, settle);
    });
  }

  /** Ends the current job early (over the limit, or a zlib error). */
  private settleNow: (() => void) | undefined;

  private frameResult(fin: boolean): InflateResult {
    this.settleNow = undefined;
    if (this.released) return { kind: 'error', reason: 'connection closed' };
    if (this.tooBig) return { kind: 'tooBig' };
    if (this.inflateError !== undefined) return { kind: 'error', reason: 'invalid compressed data' };
    if (!fin) return { kind: 'more' };
    const data = this.output.length === 1 ? this.output[0]! : Buffer.concat(this.output, this.outputLength);
    this.output = [];
    this.outputLength = 0;
    if (this.peerTakesOver) this.remember(data);
    else this.inflate?.reset();
    watchIdle(this);
    return { kind: 'message', data };
  }

  private createInflate(): InflateRaw {
    const dictionary = this.dictionary;
    const inflate = createInflateRaw(
      dictionary !== undefined && dictionary.length > 0
        ? { windowBits: this.inflateBits, dictionary, flush: constants.Z_SYNC_FLUSH }
        : { windowBits: this.inflateBits, flush: constants.Z_SYNC_FLUSH },
    );
    inflate.on('data', (chunk: Buffer) => this.inflated(chunk));
    inflate.on('error', (error: Error) => {
      this.inflateError = error;
      this.drop();
      this.settleNow?.();
    });
    this.inflate = inflate;
    return inflate;
  }

  private inflated(chunk: Buffer): void {
    if (this.tooBig) return;
    this.inflatedTotal += chunk.length;
    this.outputLength += chunk.length;
    if (this.outputLength > this.maxPayload) {
      this.tooBig = true;
      this.output = [];
      this.outputLength = 0;
      this.drop();
      this.settleNow?.();
      return;
    }
    this.output.push(chunk);
  }

  /** Keeps a copy of the last window's worth of output: what the peer's next message may refer to. */
  private remember(message: Buffer): void {
    if (message.length === 0) return;
    const tail = Buffer.from(message.subarray(Math.max(0, message.length - this.windowSize)));
    this.history.push(tail);
    this.historyLength += tail.length;
    while (this.history.length > 1 && this.historyLength - this.history[0]!.length >= this.windowSize) {
      this.historyLength -= this.history.shift()!.length;
    }
  }

  /** Releases the decompressor when idle since the last sweep; true once nothing is left to release. */
  sweep(): boolean {
    if (this.inflate === undefined) return true;
    if (this.busy || this.usedSinceSweep || this.output.length > 0) {
      this.usedSinceSweep = false;
      return false;
    }
    if (this.peerTakesOver) {
      const all = Buffer.concat([...(this.dictionary ? [this.dictionary] : []), ...this.history]);
      this.dictionary = all.length > this.windowSize ? Buffer.from(all.subarray(all.length - this.windowSize)) : all;
      this.history = [];
      this.historyLength = 0;
    }
    this.drop();
    return true;
  }

  /** Frees the zlib state now (the connection is gone, or the stream is unusable). */
  release(): void {
    this.released = true;
    this.drop();
    // A job in flight must still give its limiter slot back.
    this.settleNow?.();
    this.output = [];
    this.outputLength = 0;
    this.history = [];
    this.historyLength = 0;
    this.dictionary = undefined;
  }

  private drop(): void {
    const inflate = this.inflate;
    if (inflate === undefined) return;
    this.inflate = undefined;
    inflate.removeAllListeners('data');
    // A late error from a closed stream has nowhere to go.
    inflate.removeAllListeners('error');
    inflate.on('error', () => {});
    inflate.close();
  }
}

const EMPTY = Buffer.alloc(0);
