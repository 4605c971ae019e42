import { describe, expect, it } from 'vitest';
import { assertSnapshot } from './snapshot.js';

describe('assertSnapshot', () => {
  it('takes plain JSON', () => {
    expect(() => assertSnapshot({ a: [1, 'x', null, true, { b: -0.5 }], c: {} }, 'snapshot')).not.toThrow();
    expect(() => assertSnapshot(null, 'snapshot')).not.toThrow();
  });

  it.each([
    [{ a: { b: Number.NaN } }, '/a/b is NaN, not a JSON number'],
    [{ 'x/y': [() => 1] }, '/x~1y/0 is of type function, not JSON'],
    [{ d: new Date(0) }, '/d is not a plain object'],
    [{ u: undefined }, '/u is of type undefined, not JSON'],
  ])('refuses what is not JSON, naming its pointer', (value, message) => {
    expect(() => assertSnapshot(value, 'snapshot')).toThrow(`PF_ERR_SCHEMA: snapshot: ${message}`);
  });

  it('refuses what is nested too deep', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(() => assertSnapshot(deep, 'snapshot')).toThrow(/nested more than 64 deep/);
  });
});
