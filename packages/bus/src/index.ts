export type { Bus, BusEvent } from '@socketlab/contract';
export { decodeBusEvent, encodeBusEvent } from './codec.js';
export { createInProcessBus, type InProcessBusOptions } from './in-process.js';
export { checkRedisUrl, createRedisBus, DEFAULT_BUS_PREFIX, type RedisBus, type RedisBusOptions } from './redis.js';
