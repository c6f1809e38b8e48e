import type { BusEvent, Logger } from '@socketlab/contract';

/**
 * A bus's subscribers, shared by the in-process and the Redis bus: every event goes to every
 * handler, and a handler that throws is logged without stopping delivery to the others.
 */
export class Subscribers {
  private readonly handlers = new Set<(event: BusEvent) => void>();

  constructor(private readonly logger: Logger) {}

  /** Returns the unsubscribe; the same function added twice is two subscriptions. */
  add(handler: (event: BusEvent) => void): () => void {
    const entry = (event: BusEvent): void => handler(event);
    this.handlers.add(entry);
    return () => {
      this.handlers.delete(entry);
    };
  }

  deliver(event: BusEvent): void {
    // A copy: a handler may unsubscribe (or subscribe) while the event is delivered.
    for (const handler of [...this.handlers]) {
      try {
        handler(event);
      } catch (error) {
        this.logger.error({ err: error, kind: event.kind }, 'bus handler failed');
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
