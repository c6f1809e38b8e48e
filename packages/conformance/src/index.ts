export { drain, eventually, type Harness, type Joined, useHarness, within } from './harness.js';
export * from './raw.js';
export { describeServerApp } from './server-app.js';
export { type ConformanceOptions, describeConformance } from './suite.js';
