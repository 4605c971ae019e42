import { describe, expect, it } from 'vitest';
import { Seen } from './seen.js';

describe('Seen', () => {
  it('reports a repeat within its capacity and forgets the oldest beyond it', () => {
    const seen = new Seen(2);
    expect([seen.add('a'), seen.add('b'), seen.add('a')]).toEqual([true, true, false]);
    expect(seen.add('c')).toBe(true); // forgets 'a'
    expect([seen.add('b'), seen.add('a')]).toEqual([false, true]);
  });
});
