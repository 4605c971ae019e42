import { afterEach, expect, it, vi } from 'vitest';
import { heldCount } from './held-count.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A store whose count answers `answers` in turn (an Error rejects), counting the counts taken. */
function store(answers: (number | Error)[]) {
  const s = {
    taken: 0,
    held: async () => {
      const a = answers[s.taken++]!;
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return s;
}

it('waits for the first count, then counts at most every 15 s, showing the last count meanwhile', async () => {
  vi.useFakeTimers({ toFake: ['performance'] });
  const s = store([3, 5, 8]);
  const held = heldCount(s);
  expect(await held()).toBe(3);
  vi.advanceTimersByTime(14_999);
  expect(await held()).toBe(3);
  expect(s.taken).toBe(1);
  vi.advanceTimersByTime(1);
  // Stale: the next count is taken, the scrape does not wait for it.
  expect(await held()).toBe(3);
  expect(s.taken).toBe(2);
  await vi.waitFor(() => expect(held()).resolves.toBe(5));
  expect(s.taken).toBe(2);
});

it('keeps the last count when a count fails, and tries again at the next scrape', async () => {
  vi.useFakeTimers({ toFake: ['performance'] });
  const s = store([3, new Error('CLUSTERDOWN'), 4]);
  const held = heldCount(s);
  expect(await held()).toBe(3);
  vi.advanceTimersByTime(15_000);
  expect(await held()).toBe(3);
  await vi.waitFor(() => expect(s.taken).toBe(2));
  expect(await held()).toBe(3);
  await vi.waitFor(() => expect(held()).resolves.toBe(4));
  expect(s.taken).toBe(3);
});

it('fails the first scrape when the first count fails: there is no count to show', async () => {
  const held = heldCount(store([new Error('CLUSTERDOWN'), 2]));
  await expect(held()).rejects.toThrow('CLUSTERDOWN');
  expect(await held()).toBe(2);
});
