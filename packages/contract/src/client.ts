/**
 * The browser-safe part of the contract (`@socketlab/contract/client`): what a client
 * needs, with no Node.js import, so a page can use it unbundled (the Room and the HTTP
 * guard stay in the main entry).
 */
export * from './catalog.js';
export * from './close-codes.js';
export { DEFAULTS, SUBPROTOCOL } from './defaults.js';
export * from './inbox.js';
export * from './messages.js';
export * from './presence-log.js';
export * from './waits.js';
