import { describe, expect, it } from 'vitest';
import { DEFAULTS, isOriginAllowed } from '../src/index.js';

describe('isOriginAllowed', () => {
  const defaults = DEFAULTS.allowedOrigins;
  it.each([
    [undefined, true],
    ['http://localhost', true],
    ['http://localhost:5173', true],
    ['http://127.0.0.1:3000', true],
    ['http://LOCALHOST:1', true],
    ['https://localhost', false],
    ['http://localhost.evil.com', false],
    ['http://evil.com', false],
    ['null', false],
    ['', false],
    ['garbage', false],
  ])('default allowlist: %s -> %s', (origin, allowed) => {
    expect(isOriginAllowed(origin, defaults)).toBe(allowed);
  });

  it('an entry with a port matches only that port (default ports included)', () => {
    expect(isOriginAllowed('https://app.example:8443', ['https://app.example:8443'])).toBe(true);
    expect(isOriginAllowed('https://app.example:8444', ['https://app.example:8443'])).toBe(false);
    expect(isOriginAllowed('https://app.example', ['https://app.example:443'])).toBe(true);
  });

  it('* allows everything', () => {
    expect(isOriginAllowed('http://evil.com', ['*'])).toBe(true);
  });
});
