import { describe, expect, it } from 'vitest';
import { splitList } from './split.js';

describe('splitList (RFC 3261 §7.3.1)', () => {
  it('splits at commas outside quoted strings and <>', () => {
    expect(splitList('<sip:a,b@x>;q=1 ,  "C, \\"D\\"" <sip:c@y>, sip:e@z')).toEqual([
      '<sip:a,b@x>;q=1',
      '"C, \\"D\\"" <sip:c@y>',
      'sip:e@z',
    ]);
    expect(splitList('one')).toEqual(['one']);
  });

  it('refuses empty elements', () => {
    expect(() => splitList('a,,b')).toThrow(/empty element/);
    expect(() => splitList('a, ')).toThrow(/empty element/);
    expect(() => splitList(',a')).toThrow(/empty element/);
  });
});
