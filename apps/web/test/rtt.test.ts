import { describe, expect, it } from 'vitest';
import { isRttProbe, RttSamples } from '../src/rtt.js';

describe('round-trip samples', () => {
  it('has no figures before the first sample', () => {
    const samples = new RttSamples();
    expect([samples.count, samples.last, samples.median]).toEqual([0, undefined, undefined]);
  });

  it('reports the last sample and the median (the mean of the middle two for an even count)', () => {
    const samples = new RttSamples();
    for (const ms of [5, 1, 9]) samples.add(ms);
    expect([samples.last, samples.median]).toEqual([9, 5]);
    samples.add(3);
    expect([samples.count, samples.last, samples.median]).toEqual([4, 3, 4]);
  });

  it('keeps only the most recent samples', () => {
    const samples = new RttSamples(3);
    for (const ms of [100, 100, 100, 1, 2, 3]) samples.add(ms);
    expect([samples.count, samples.median]).toEqual([3, 2]);
  });

  it('tells its probes from chat echoes', () => {
    expect(isRttProbe({ rttProbe: 3 })).toBe(true);
    expect(isRttProbe({ text: 'hi' })).toBe(false);
    expect(isRttProbe(null)).toBe(false);
    expect(isRttProbe('rttProbe')).toBe(false);
  });
});
