import { type Adapter, WEBSOCKET_CAPABILITIES } from '@socketlab/contract';
import { connect } from './client.js';
import { createServer } from './server.js';

export { connect } from './client.js';
export {
  Connection,
  type ConnectionListener,
  type ConnectionOptions,
  type ConnectionState,
  type QueuedFrame,
} from './connection.js';
export { Opcode, WEBSOCKET_GUID } from './constants.js';
export { type ExtensionOffer, formatExtension, type ParsedExtensions, parseExtensions } from './extension.js';
export {
  acceptKeyFor,
  checkServerResponse,
  HeadReader,
  parseRequestHead,
  parseResponseHead,
  switchingProtocols,
  upgradeRequest,
} from './handshake.js';
export { applyMask, type MaskKey, maskKeyOf } from './mask.js';
export {
  type Acceptance,
  acceptOffer,
  checkAnswer,
  clientOffer,
  type DeflateParams,
  PerMessageDeflate,
} from './permessage-deflate.js';
export {
  defaultMaxFragments,
  type ProtocolError,
  Receiver,
  type ReceiverHandlers,
  type ReceiverOptions,
} from './receiver.js';
export { closePayload, encodeCompressedFrame, encodeFrame, RSV1, Sender } from './sender.js';
export { createServer } from './server.js';
export { Utf8Validator, utf8Step } from './validation.js';

/** The net adapter (RFC 6455 by hand), as the conformance suite and the benchmark take it. */
export const adapter: Adapter = {
  name: 'net',
  capabilities: WEBSOCKET_CAPABILITIES,
  createServer,
  connect,
};
