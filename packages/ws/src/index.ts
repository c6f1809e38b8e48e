import { type Adapter, WEBSOCKET_CAPABILITIES } from '@socketlab/contract';
import { connect } from './client.js';
import { createServer } from './server.js';

export { connect } from './client.js';
export { createServer } from './server.js';

/** The ws adapter, as the conformance suite and the benchmark take it. */
export const adapter: Adapter = {
  name: 'ws',
  capabilities: WEBSOCKET_CAPABILITIES,
  createServer,
  connect,
};
