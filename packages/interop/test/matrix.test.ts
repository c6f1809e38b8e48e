import { describeConformance } from '@socketlab/conformance';
import { WEBSOCKET_ADAPTERS } from './adapters.js';

/**
 * The interop matrix: each WebSocket adapter's client against each one's server runs the
 * client-side part of the suite (the raw-wire groups do not depend on the client and run
 * once per adapter in its own package). The adapters are the catalog's WebSocket transports.
 */
for (const server of WEBSOCKET_ADAPTERS) {
  for (const client of WEBSOCKET_ADAPTERS) {
    describeConformance(server, { client, groups: 'client', label: 'interop' });
  }
}
