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

/** The same with permessage-deflate asked for on both sides, for every pair that can compress. */
for (const server of WEBSOCKET_ADAPTERS) {
  for (const client of WEBSOCKET_ADAPTERS) {
    if (!server.capabilities.compression || !client.capabilities.compression) continue;
    describeConformance(server, {
      client,
      groups: 'client',
      label: 'interop, compressed',
      server: { perMessageDeflate: { threshold: 0 } },
      connect: { perMessageDeflate: { threshold: 0 } },
    });
  }
}
