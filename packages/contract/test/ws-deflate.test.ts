import { describe, expect, it } from 'vitest';
import { resolvePerMessageDeflate, wsLibraryDeflate } from '../src/index.js';

describe('wsLibraryDeflate', () => {
  it('is false when compression is off', () => {
    expect(wsLibraryDeflate(undefined)).toBe(false);
    expect(wsLibraryDeflate(false)).toBe(false);
  });
  it('maps the defaults, leaving out what ws would read as a refusal', () => {
    expect(wsLibraryDeflate(true)).toStrictEqual({
      threshold: 1024,
      concurrencyLimit: 10,
      zlibDeflateOptions: { level: 3, memLevel: 8 },
    });
  });
  it('maps every parameter that was asked for', () => {
    expect(
      wsLibraryDeflate({
        threshold: 0,
        concurrencyLimit: 2,
        level: 9,
        memLevel: 4,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 11,
      }),
    ).toStrictEqual({
      threshold: 0,
      concurrencyLimit: 2,
      zlibDeflateOptions: { level: 9, memLevel: 4 },
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
    });
  });
  it('refuses zlib parameters zlib would refuse later', () => {
    expect(() => resolvePerMessageDeflate({ level: 10 })).toThrow(/level must be an integer from 0 to 9, got 10/);
    expect(() => resolvePerMessageDeflate({ memLevel: 0 })).toThrow(/memLevel must be an integer from 1 to 9/);
    expect(() => wsLibraryDeflate({ concurrencyLimit: 0 })).toThrow(/concurrencyLimit/);
  });
});
