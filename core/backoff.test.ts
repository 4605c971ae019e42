import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it("doubles from the first delay up to the cap, socket.io's defaults", () => {
    const b = new Backoff(1000, 5000, 0, 'seed');
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 5000, 5000]);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it('spreads each delay by the randomization factor, differently per seed', () => {
    const delays = (seed: string) => {
      const b = new Backoff(1000, 5000, 0.5, seed);
      return Array.from({ length: 4 }, () => b.next());
    };
    for (const seed of ['user://a.example/alice', 'user://a.example/bob', 'x']) {
      const [d1, d2, d3, d4] = delays(seed) as [number, number, number, number];
      expect(d1).toBeGreaterThanOrEqual(500);
      expect(d1).toBeLessThanOrEqual(1500);
      expect(d2).toBeGreaterThanOrEqual(1000);
      expect(d2).toBeLessThanOrEqual(3000);
      expect(d3).toBeGreaterThanOrEqual(2000);
      expect(d4).toBeLessThanOrEqual(5000);
    }
    expect(delays('user://a.example/alice')).toEqual(delays('user://a.example/alice'));
    expect(delays('user://a.example/alice')).not.toEqual(delays('user://a.example/bob'));
  });
});
