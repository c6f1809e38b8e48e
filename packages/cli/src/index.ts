export { READY_PATTERN, type ServerApp, type StickyTarget, serverApp } from './app.js';
export { type ParsedArgs, parseServerArgs, type ServerAppSpec, usage, withoutLeadingSeparator } from './args.js';
export { installMemoryProbe, MEMORY_PROBE_PATTERN, runServerApp } from './run.js';
export { parseDuration, parsePort, parseSize } from './units.js';
