export { parseServerArgs, type ServerAppSpec, usage } from './args.js';
export { READY_PATTERN, runServerApp, type ServerApp } from './run.js';
export { parseDuration, parsePort, parseSize } from './units.js';
