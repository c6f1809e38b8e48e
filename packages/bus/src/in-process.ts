import { type Bus, type Logger, silentLogger } from '@socketlab/contract';
import { Subscribers } from './subscribers.js';

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
  const subscribers = new Subscribers(options.logger ?? silentLogger);
  let closed = false;
  return {
    publish(event) {
      if (closed) return;
      queueMicrotask(() => subscribers.deliver(event));
    },
    subscribe: (handler) => subscribers.add(handler),
    async close() {
      closed = true;
      subscribers.clear();
    },
  };
}
