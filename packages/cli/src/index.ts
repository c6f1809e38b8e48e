export { METRICS_PATTERN, READY_PATTERN, type ServerApp, type StickyTarget, serverApp } from './app.js';
export {
  environmentName,
  LOG_LEVELS,
  type LogLevel,
  type ParsedArgs,
  parseServerArgs,
  type ServerAppSpec,
  usage,
  withoutLeadingSeparator,
} from './args.js';
export { type AppMetrics, createAppMetrics, isLoopback } from './metrics.js';
export { installMemoryProbe, MEMORY_PROBE_PATTERN, runServerApp } from './run.js';
export { parseDuration, parsePort, parseSize } from './units.js';
