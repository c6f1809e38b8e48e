export { type ParsedArgs, parseServerArgs, type ServerAppSpec, usage } from './args.js';
export {
  installMemoryProbe,
  MEMORY_PROBE_PATTERN,
  READY_PATTERN,
  runServerApp,
  type ServerApp,
  type StickyTarget,
} from './run.js';
export { parseDuration, parsePort, parseSize } from './units.js';
