import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(50)).toBe(false); // half a token
    expect(bucket.take(100)).toBe(true); // one token after 100 ms at 10/s
    expect(bucket.take(100)).toBe(false);
  });

  it('never saves more than the burst', () => {
    const bucket = new TokenBucket(1000, 2, 0);
    const taken = [bucket.take(60_000), bucket.take(60_000), bucket.take(60_000)];
    expect(taken).toEqual([true, true, false]);
  });

  it('charges past what it holds, and says how long the debt takes to repay', () => {
    const bucket = new TokenBucket(1000, 2000, 0);
    expect(bucket.charge(1500, 0)).toBe(0);
    expect(bucket.charge(1500, 0)).toBe(1000); // 1000 in debt at 1000/s
    expect(bucket.take(500)).toBe(false); // still 500 in debt
    expect(bucket.charge(0, 1000)).toBe(0);
    expect(bucket.take(1001)).toBe(true);
  });
});
