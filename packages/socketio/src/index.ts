import type { Adapter } from '@socketlab/contract';
import { connect } from './client.js';
import { createServer } from './server.js';

export { connect } from './client.js';
export { createServer, SOCKET_IO_PATH, type SocketIoServer } from './server.js';

/** The socket.io adapter, as the conformance suite and the benchmark take it. */
export const adapter: Adapter = {
  name: 'socketio',
  capabilities: {
    websocketProtocol: false,
    binaryMessages: false,
    binaryPayloads: true,
    requestForm: 'event',
    closeCodes: false,
    compression: true,
  },
  createServer,
  connect,
};
