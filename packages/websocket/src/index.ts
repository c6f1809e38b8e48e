import { type Adapter, WEBSOCKET_CAPABILITIES } from '@socketlab/contract';
import { connect } from './client.js';
import { createServer, WEBSOCKET_ADAPTER_DEFAULTS } from './server.js';

export { connect } from './client.js';
export { clientFrameViolation } from './hardening.js';
export { createServer, WEBSOCKET_ADAPTER_DEFAULTS } from './server.js';

/** The websocket (WebSocket-Node) adapter, as the conformance suite and the benchmark take it. */
export const adapter: Adapter = {
  name: 'websocket',
  // WebSocket-Node 1.0.35 has no permessage-deflate: it declines every offer.
  capabilities: { ...WEBSOCKET_CAPABILITIES, compression: false },
  defaults: WEBSOCKET_ADAPTER_DEFAULTS,
  createServer,
  connect,
};
