import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileEndpoints } from './endpoint.js';

describe('compileEndpoints', () => {
  const allowed = compileEndpoints([
    'wss://sip.b.example/ws',
    'ws://127.0.0.1:*/allowed',
    'ws://node.b.example:8080/',
    'wss://xmpp.b.example/xmpp/',
  ]);

  it.each([
    ['wss://sip.b.example/ws', 'wss://sip.b.example/ws'],
    ['wss://sip.b.example:443/ws', 'wss://sip.b.example/ws'],
    ['wss://SIP.B.EXAMPLE/ws/room?x=1', 'wss://sip.b.example/ws/room?x=1'],
    ['ws://127.0.0.1:1234/allowed', 'ws://127.0.0.1:1234/allowed'],
    ['ws://127.0.0.1/allowed/deeper', 'ws://127.0.0.1/allowed/deeper'],
    ['ws://127.0.0.1:9/x/../allowed', 'ws://127.0.0.1:9/allowed'],
    ['ws://node.b.example:8080/anything', 'ws://node.b.example:8080/anything'],
    ['wss://xmpp.b.example/xmpp/', 'wss://xmpp.b.example/xmpp/'],
  ])('allows %s as %s', (url, normalized) => {
    expect(allowed(url)).toBe(normalized);
  });

  it.each([
    ['another host', 'wss://evil.example/ws'],
    ['a host that only ends like an allowed one', 'wss://evil-sip.b.example/ws'],
    ['an allowed host as a subdomain of another', 'wss://sip.b.example.evil.example/ws'],
    ['credentials smuggling another host', 'wss://sip.b.example@evil.example/ws'],
    ['credentials at all', 'wss://user:pw@sip.b.example/ws'],
    ['the other scheme', 'ws://sip.b.example/ws'],
    ['http', 'https://sip.b.example/ws'],
    ['a port where the pattern has none', 'wss://sip.b.example:8443/ws'],
    ['another port where the pattern names one', 'ws://node.b.example:8081/'],
    ['a path that only starts with the prefix', 'wss://sip.b.example/wsx'],
    ['a path outside the prefix', 'ws://127.0.0.1:80/forbidden'],
    ['dot segments climbing out', 'ws://127.0.0.1:80/allowed/../forbidden'],
    ['encoded dot segments climbing out', 'ws://127.0.0.1:80/allowed/%2e%2e/forbidden'],
    ['a directory prefix without its slash', 'wss://xmpp.b.example/xmpp'],
    ['a fragment', 'wss://sip.b.example/ws#x'],
    ['a trailing-dot host', 'wss://sip.b.example./ws'],
    ['something that is not a URL', 'not a url'],
    ['an IPv6 host', 'ws://[::1]:80/allowed'],
  ])('refuses %s (%s)', (_why, url) => {
    expect(allowed(url)).toBeUndefined();
  });

  it('refuses everything with an empty list', () => {
    expect(compileEndpoints([])('wss://sip.b.example/ws')).toBeUndefined();
  });

  it('refuses a malformed pattern with PF_ERR_SCHEMA naming it', () => {
    expect(() => compileEndpoints(['https://x.example/'])).toThrow(
      "PF_ERR_SCHEMA: endpoint pattern 'https://x.example/' is not ws(s)://host[:port|:*]/path-prefix",
    );
  });

  it('never allows a URL whose host is not the pattern host', () => {
    const only = compileEndpoints(['ws://a.example:*/']);
    fc.assert(
      fc.property(fc.string(), (tail) => {
        const url = only(`ws://a.example${tail}`);
        return url === undefined || new URL(url).hostname === 'a.example';
      }),
    );
  });
});
