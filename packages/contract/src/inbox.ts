import type { CloseInfo } from './close-codes.js';
import type { ConnectionId, Incoming, IncomingOfType } from './messages.js';

/** How long a client waits for an expected message before failing with a clear error. */
export const DEFAULT_RECEIVE_TIMEOUT = 5_000;

interface Waiter {
  /** What the take waits for, for the error message; undefined: any message. */
  type: string | undefined;
  accepts(message: Incoming): boolean;
  resolve(message: Incoming): void;
  reject(error: Error): void;
}

/**
 * A client's buffered receive: every message is queued until someone takes it, so none
 * is lost between two awaits. `take` removes the first queued message that matches and
 * leaves the rest in order.
 */
export class Inbox {
  private readonly queue: Incoming[] = [];
  private readonly waiters: Waiter[] = [];
  private closedWith: CloseInfo | undefined;
  private readonly present = new Set<ConnectionId>();

  /**
   * The presence set (CONTRACT.md section 1): `welcome`'s members, then every `join` and
   * `leave` in arrival order, whether or not anyone took those messages yet.
   */
  get members(): ReadonlySet<ConnectionId> {
    return this.present;
  }

  push(message: Incoming): void {
    this.track(message);
    const index = this.waiters.findIndex((waiter) => waiter.accepts(message));
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      waiter?.resolve(message);
      return;
    }
    this.queue.push(message);
  }

  /** The connection ended: every pending and later `take` that finds nothing fails. */
  close(info: CloseInfo): void {
    this.closedWith ??= info;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedError(waiter.type));
  }

  /** Messages received and not taken yet, oldest first. */
  pending(): readonly Incoming[] {
    return this.queue;
  }

  take<T extends Incoming['type']>(type?: T, timeoutMs = DEFAULT_RECEIVE_TIMEOUT): Promise<IncomingOfType<T>> {
    const accepts = (message: Incoming): boolean => type === undefined || message.type === type;
    const index = this.queue.findIndex(accepts);
    if (index >= 0) {
      const [message] = this.queue.splice(index, 1);
      return Promise.resolve(message as IncomingOfType<T>);
    }
    if (this.closedWith) return Promise.reject(this.closedError(type));
    return new Promise<IncomingOfType<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        const seen = this.queue.map((m) => m.type).join(', ') || 'nothing';
        reject(new Error(`no ${type ?? 'message'} arrived within ${timeoutMs} ms (queued: ${seen})`));
      }, timeoutMs);
      const waiter: Waiter = {
        type,
        accepts,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as IncomingOfType<T>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private track(message: Incoming): void {
    switch (message.type) {
      case 'welcome':
        this.present.clear();
        // A server that predates the roster sends none: start from nobody.
        for (const id of Array.isArray(message.members) ? message.members : []) this.present.add(id);
        return;
      case 'join':
        this.present.add(message.id);
        return;
      case 'leave':
        this.present.delete(message.id);
        return;
    }
  }

  private closedError(type?: string): Error {
    const info = this.closedWith;
    return new Error(
      `connection closed (code ${info?.code}${info?.reason ? `, "${info.reason}"` : ''}) before ${type ?? 'a message'} arrived`,
    );
  }
}
