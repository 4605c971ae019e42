import { describe, expect, it } from 'vitest';
import { CONTACT, FROM, SUPPORTED, VIA } from './codecs.js';
import { Headers } from './headers.js';
import { parseNameAddr } from './name-addr.js';

function sample(): Headers {
  const h = new Headers();
  h.append('v', 'SIP/2.0/WSS a.invalid;branch=z9hG4bK1');
  h.append('f', 'Alice <sip:alice@a.example>;tag=1');
  h.append('m', '<sip:a@a.invalid>, "Bob, Jr." <sip:b@b.invalid>;q=0.5');
  h.append('X-Custom', 'One, two');
  return h;
}

describe('Headers', () => {
  it('writes names in full and finds them under any spelling, compact forms included', () => {
    const h = sample();
    expect(h.fields.map((f) => f.name)).toEqual(['Via', 'From', 'Contact', 'X-Custom']);
    expect(h.get('VIA')).toBe('SIP/2.0/WSS a.invalid;branch=z9hG4bK1');
    expect(h.get('x-custom')).toBe('One, two');
    expect([h.has('F'), h.has('To')]).toEqual([true, false]);
  });

  it('splits list headers at the commas outside quotes and <>, and never splits unknown ones', () => {
    const h = sample();
    expect(h.all(CONTACT).map((c) => c.displayName)).toEqual([undefined, 'Bob, Jr.']);
    expect(h.getAll('X-Custom')).toEqual(['One, two']);
  });

  it('parses a header once, and again after it changes', () => {
    const h = sample();
    const first = h.all(FROM);
    expect(h.all(FROM)).toBe(first);
    h.set('From', 'Carol <sip:carol@c.example>;tag=2');
    expect(h.first(FROM)?.displayName).toBe('Carol');
    h.prepend('Via', 'SIP/2.0/WSS proxy.example.com;branch=z9hG4bK2');
    expect(h.all(VIA).map((v) => v.host)).toEqual(['proxy.example.com', 'a.invalid']);
    h.delete('v');
    expect(h.all(VIA)).toEqual([]);
  });

  it('set replaces every field of a header where the first one was', () => {
    const h = sample();
    h.append('Contact', '<sip:c@c.invalid>');
    h.set('Contact', '*');
    expect(h.fields.map((f) => `${f.name}: ${f.value}`)).toEqual([
      'Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK1',
      'From: Alice <sip:alice@a.example>;tag=1',
      'Contact: *',
      'X-Custom: One, two',
    ]);
    expect(() => h.all(CONTACT)).toThrow(/wildcard/);
  });

  it('put writes typed values, one field each, and keeps them as the typed view', () => {
    const h = new Headers();
    const contacts = [
      parseNameAddr('<sip:a@a.invalid;transport=ws>;expires=60'),
      parseNameAddr('"B" <sip:b@b>'),
    ];
    h.put(CONTACT, contacts);
    expect(h.getAll('Contact')).toEqual(['<sip:a@a.invalid;transport=ws>;expires=60', '"B" <sip:b@b>']);
    expect(h.all(CONTACT)).toEqual(contacts);
    expect(() => h.put(FROM, [contacts[0]!, contacts[1]!])).toThrow(/takes one value, got 2/);
  });

  it('an empty Supported is an empty list; a From that appears twice is refused', () => {
    const h = new Headers();
    h.append('Supported', '');
    expect(h.all(SUPPORTED)).toEqual([]);
    h.append('From', '<sip:a@a>;tag=1');
    h.append('From', '<sip:b@b>;tag=2');
    expect(() => h.first(FROM)).toThrow(/From appears 2 times/);
  });

  it('names the header and value in a refusal', () => {
    const h = new Headers();
    h.append('Via', 'SIP/2.0/UDP host;branch=z9hG4bK1, SIP/2.0 host2');
    expect(() => h.all(VIA)).toThrow(
      'PF_ERR_SIP_PARSE: Via header "SIP/2.0/UDP host;branch=z9hG4bK1, SIP/2.0 host2": expected \'/\' after the protocol version',
    );
  });

  it.each([
    ['Bad Name', 'x', /not a token/],
    ['X-Injected', 'a\r\nVia: evil', /holds CR or LF/],
    ['l', '12', /Content-Length is written by serialize/],
  ])('refuses the field %j: %j', (name, value, why) => {
    expect(() => new Headers().append(name, value)).toThrow(why);
  });
});
