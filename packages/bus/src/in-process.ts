import type { Bus, BusEvent, Logger } from '@socketlab/contract';
import { silentLogger } from '@socketlab/contract';

export interface InProcessBusOptions {
  logger?: Logger;
}

/**
 * The embedded bus: rooms in one process share events through it (several servers in one
 * process, as tests and embedders run them). A single server needs no bus at all.
 *
 * Delivery is asynchronous (one microtask per event, in publish order), like a real bus:
 * a room never receives another room's event in the middle of its own handler. Every
 * subscriber sees every event, its own included (rooms drop their own by `origin`); a
 * throwing handler is logged and does not stop delivery to the others.
 */
export function createInProcessBus(options: InProcessBusOptions = {}): Bus & { close(): Promise<void> } {
  const logger = options.logger ?? silentLogger;
  const handlers = new Set<(event: BusEvent) => void>();
  let closed = false;
  return {
    publish(event) {
      if (closed) return;
      queueMicrotask(() => {
        for (const handler of [...handlers]) {
          try {
            handler(event);
          } catch (error) {
            logger.error({ err: error, kind: event.kind }, 'bus handler failed');
          }
        }
      });
    },
    subscribe(handler) {
      // A wrapper per call, so the same function subscribed twice is two subscriptions.
      const entry = (event: BusEvent) => handler(event);
      handlers.add(entry);
      return () => {
        handlers.delete(entry);
      };
    },
    async close() {
      closed = true;
      handlers.clear();
    },
  };
}
