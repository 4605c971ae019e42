import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import { checkDomainConfig } from './domain-config.js';
import { PageOrigins } from './page-origins.js';

/** Origins as configured: a scheme, a host, perhaps a port. */
const origins = fc
  .tuple(fc.constantFrom('http', 'https'), fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 })))
  .map(([scheme, host, port]) => `${scheme}://${host}${port === null ? '' : `:${port}`}`);

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
      fc.property(origins, fc.string(), (url, junk) => {
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

  it.each([
    [{ token: ['*'] }, '/browsers/token/0'],
    [{ messaging: ['https://a.example/app'] }, '/browsers/messaging/0'],
    [{ token: ['ws://a.example'] }, '/browsers/token/0'],
    [{ pages: ['https://a.example'] }, '/browsers'],
  ])('a domain config with browsers %j is refused with PF_ERR_SCHEMA at %s', (browsers, pointer) => {
    try {
      checkDomainConfig({ domain: 'a.example', browsers });
      expect.unreachable();
    } catch (err) {
      expect(isProtoflyError(err, 'PF_ERR_SCHEMA')).toBe(true);
      expect((err as Error).message).toContain(pointer);
    }
  });

  it('takes a domain config that lists origins, and * for the node', () => {
    checkDomainConfig({
      domain: 'a.example',
      browsers: { token: ['https://app.a.example'], messaging: ['*', 'http://127.0.0.1:8080'] },
    });
  });
});
