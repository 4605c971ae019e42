import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import { PageOrigins } from './page-origins.js';

describe('page origins', () => {
  it('allows exactly the origins listed, in the form browsers send them; no Origin is no page', () => {
    const pages = new PageOrigins(['https://App.A.example:443', 'http://127.0.0.1:8080/'], 'x');
    expect(pages.allows('https://app.a.example')).toBe(true);
    expect(pages.allows('http://127.0.0.1:8080')).toBe(true);
    expect(pages.allows(undefined)).toBe(true);
    for (const other of [
      'http://app.a.example',
      'https://app.a.example:8443',
      'http://127.0.0.1:8081',
      'null',
      '',
    ])
      expect(pages.allows(other)).toBe(false);
    fc.assert(
      fc.property(fc.webUrl(), fc.string(), (url, junk) => {
        const origin = new URL(url).origin;
        const listed = new PageOrigins([origin], 'x');
        expect(listed.allows(origin)).toBe(true);
        expect(listed.allows(origin + junk)).toBe(junk === '');
        expect(new PageOrigins([], 'x').allows(origin)).toBe(false);
        expect(new PageOrigins(['*'], 'x').allows(origin)).toBe(true);
      }),
    );
  });

  it('refuses an opaque origin even under *', () => {
    expect(new PageOrigins(['*'], 'x').allows('null')).toBe(false);
  });

  it.each(['https://a.example/app', 'https://user@a.example', 'https://a.example?x', 'a.example', 'null'])(
    'refuses %s in its configuration with PF_ERR_CONFIG',
    (origin) => {
      try {
        new PageOrigins([origin], 'x');
        expect.unreachable();
      } catch (err) {
        expect(isProtoflyError(err, 'PF_ERR_CONFIG')).toBe(true);
      }
    },
  );
});
