import { describe, expect, it } from 'vitest';
import { formatUri, parseUri } from '../message/index.js';
import { addressOf, sipUriOf } from './addresses.js';

describe('addresses and SIP URIs', () => {
  it('maps a user address to its SIP URI and back', () => {
    expect(formatUri(sipUriOf('user://c.example/dave'))).toBe('sip:dave@c.example');
    expect(addressOf(parseUri('sip:dave@C.Example;transport=ws'))).toBe('user://c.example/dave');
  });

  it('keeps a guest under the domain that admitted it', () => {
    expect(addressOf(parseUri('sip:alice~a.example@c.example'))).toBe('user://c.example/alice~a.example');
  });

  it('escapes what an address segment cannot hold, and round-trips it', () => {
    const address = addressOf(parseUri('sip:j%C3%B6rg%2Fx?y@c.example'));
    expect(address).toBe('user://c.example/j%C3%B6rg%2Fx%3Fy');
    expect(sipUriOf(address!).user).toBe('jörg/x?y');
  });

  it('gives no address for a URI without a user, of another scheme, or with a host that is no domain', () => {
    expect(addressOf(parseUri('sip:c.example'))).toBeUndefined();
    expect(addressOf(parseUri('tel:+1-201-555-0123'))).toBeUndefined();
    expect(addressOf(parseUri('sip:bob@[2001:db8::1]'))).toBeUndefined();
  });
});
