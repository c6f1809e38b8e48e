// ws exports its Receiver and Sender at runtime (ws/wrapper.mjs) but @types/ws does not
// declare them; the micro-benchmark drives them directly, so it declares what it uses.
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

declare module 'ws' {
  export class Receiver extends Writable {
    constructor(options?: { isServer?: boolean; maxPayload?: number; binaryType?: string });
  }
  export class Sender {
    constructor(socket: Socket);
    send(
      data: string | Uint8Array,
      options: { binary: boolean; mask: boolean; fin: boolean; compress: boolean; rsv1: boolean },
      cb?: () => void,
    ): void;
  }
}
