import { describe, expect, it } from 'vitest';
import { headerName, knownHeaderAt } from './header-names.js';

describe('header names', () => {
  it('expands every compact form (RFC 3261 §7.3.3 and later registrations), in either case', () => {
    const compact = {
      i: 'Call-ID',
      m: 'Contact',
      e: 'Content-Encoding',
      l: 'Content-Length',
      c: 'Content-Type',
      f: 'From',
      s: 'Subject',
      k: 'Supported',
      t: 'To',
      v: 'Via',
      o: 'Event',
      u: 'Allow-Events',
      r: 'Refer-To',
      b: 'Referred-By',
      x: 'Session-Expires',
      y: 'Identity',
      a: 'Accept-Contact',
      j: 'Reject-Contact',
      d: 'Request-Disposition',
    };
    for (const [letter, full] of Object.entries(compact)) {
      expect(headerName(letter)).toEqual({ name: full, key: full.toLowerCase() });
      expect(headerName(letter.toUpperCase()).name).toBe(full);
    }
  });

  it('writes known names in their registered spelling and keeps unknown ones as written', () => {
    expect(headerName('cALL-iD')).toEqual({ name: 'Call-ID', key: 'call-id' });
    expect(headerName('www-authenticate').name).toBe('WWW-Authenticate');
    expect(headerName('X-Custom-Thing')).toEqual({ name: 'X-Custom-Thing', key: 'x-custom-thing' });
    expect(headerName('C%6Fntact').key).toBe('c%6fntact');
  });

  it('finds registered spellings in place, and leaves the rest to headerName', () => {
    const line = 'xxCSeq: 1 INVITE';
    expect(knownHeaderAt(line, 2, 6)?.name).toBe('CSeq');
    expect(knownHeaderAt('cseq', 0, 4)?.name).toBe('CSeq');
    expect(knownHeaderAt('CSEQ', 0, 4)).toBeUndefined();
    expect(knownHeaderAt('Viaduct', 0, 3)?.name).toBe('Via');
    expect(knownHeaderAt('Vía', 0, 3)).toBeUndefined();
  });
});
