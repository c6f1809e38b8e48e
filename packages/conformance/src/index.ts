export { drain, type Harness, type Joined, useHarness } from './harness.js';
export { type Exposition, parsePrometheusText, type Sample, scrapeMetrics } from './prometheus.js';
export * from './raw.js';
export { describeServerApp } from './server-app.js';
export { type ConformanceOptions, describeConformance } from './suite.js';
export { createTestCa, type TestCa, type TestCertificate, testTls } from './tls.js';
