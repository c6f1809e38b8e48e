export { type ParsedArgs, parseServerArgs, type ServerAppSpec, usage } from './args.js';
export { READY_PATTERN, runServerApp, type ServerApp, type StickyTarget } from './run.js';
export { parseDuration, parsePort, parseSize } from './units.js';
