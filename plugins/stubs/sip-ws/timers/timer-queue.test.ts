import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TimerHost } from '../../../../core/stub-kit/shared-session.js';
import { TimerQueue } from './timer-queue.js';

/** A host on the (faked) clock that counts what is armed, like a conversation's context. */
function host(): TimerHost & { armed: Set<number> } {
  const timers = new Map<number, ReturnType<typeof setTimeout>>();
  let next = 1;
  const h = {
    armed: new Set<number>(),
    setTimeout(fn: () => void, ms: number) {
      const id = next++;
      h.armed.add(id);
      timers.set(
        id,
        setTimeout(() => {
          h.armed.delete(id);
          fn();
        }, ms),
      );
      return id;
    },
    clearTimeout(id: number) {
      clearTimeout(timers.get(id));
      h.armed.delete(id);
    },
  };
  return h;
}

const queues: TimerQueue[] = [];
// The queue reads Date.now() and arms the host's setTimeout: both on vitest's clock, moved by hand.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const q of queues.splice(0)) q.clear();
  vi.useRealTimers();
});

function queue(h: TimerHost, errors: unknown[] = []): TimerQueue {
  const q = new TimerQueue(h, (err) => errors.push(err));
  queues.push(q);
  return q;
}

describe('TimerQueue', () => {
  it('runs calls in deadline order, then in order of scheduling, on one host timer', () => {
    const h = host();
    const q = queue(h);
    const ran: string[] = [];
    q.after(30, () => ran.push('c'));
    q.after(10, () => ran.push('a'));
    q.after(10, () => ran.push('b'));
    q.after(20, () => ran.push('x')).cancel();
    expect(h.armed.size).toBe(1);
    vi.advanceTimersByTime(10);
    expect(ran).toEqual(['a', 'b']);
    vi.advanceTimersByTime(19);
    expect(ran).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(h.armed.size).toBe(0);
    expect(q.size).toBe(0);
  });

  it('re-arms for an earlier deadline, and keeps going when a call throws', () => {
    const h = host();
    const errors: unknown[] = [];
    const q = queue(h, errors);
    const ran: number[] = [];
    q.after(1000, () => ran.push(1000));
    q.after(5, () => {
      throw new Error('boom');
    });
    q.after(10, () => ran.push(10));
    vi.advanceTimersByTime(999);
    expect(ran).toEqual([10]);
    expect(errors).toHaveLength(1);
    expect(h.armed.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual([10, 1000]);
  });
});
