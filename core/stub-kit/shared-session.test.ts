import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import { SessionMember, SharedSession, shared } from './shared-session.js';

const KEY = 'test/shared';

/** Contexts of one domain and identity, as the host gives each instance: one session between them. */
function contexts(n: number): { session: DirectSession; ctxs: DirectContext[] } {
  const session = new DirectSession();
  const ctxs = Array.from(
    { length: n },
    () => new DirectContext({ address: 'user://a.example/alice', config: {}, session }),
  );
  return { session, ctxs };
}

/** Each context's instance joined to the session the first one made. */
function joined(n: number) {
  const { session, ctxs } = contexts(n);
  const shares = new SharedSession<SessionMember>(ctxs[0]!, KEY);
  const members = ctxs.map((ctx) => {
    const m = new SessionMember(ctx);
    shares.join(m);
    return m;
  });
  return { session, ctxs, shares, members };
}

// DirectContext's timers are the process's, on vitest's clock; the session reads Date.now().
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SharedSession', () => {
  it('has a member joining report what the others did: connecting, live, or failed with the code', () => {
    const { ctxs, shares } = joined(1);
    expect(ctxs[0]!.statuses).toEqual(['connecting']);
    shares.broadcast('disconnected', 'lost');
    shares.broadcast('live');
    const [late] = contexts(1).ctxs;
    shares.join(new SessionMember(late!));
    expect(late!.statuses).toEqual(['live']);
    shares.broadcast('disconnected', 'lost');
    const [later] = contexts(1).ctxs;
    shares.join(new SessionMember(later!));
    expect(later!.statuses).toEqual(['connecting']);

    shares.fail('refused', 'PF_ERR_AUTH');
    const [last] = contexts(1).ctxs;
    shares.join(new SessionMember(last!));
    for (const ctx of [ctxs[0]!, late!, later!, last!]) {
      expect(ctx.statuses.at(-1)).toBe('failed');
      expect(ctx.failedWith).toBe('PF_ERR_AUTH');
    }
    expect(shares.failure).toEqual({ detail: 'refused', code: 'PF_ERR_AUTH' });
  });

  it('fails with the far side’s code only when a stub may give it, after settling with the failure recorded', () => {
    const { ctxs, shares } = joined(1);
    const seen: unknown[] = [];
    shares.fail('the node says so', 'PF_ERR_POLICY', () => {
      seen.push(shares.failure, ctxs[0]!.statuses.at(-1));
    });
    expect(seen).toEqual([{ detail: 'the node says so', code: undefined }, 'connecting']);
    expect(ctxs[0]!.statuses.at(-1)).toBe('failed');
    expect(ctxs[0]!.failedWith).toBeUndefined();
  });

  it('reports a member that never reported as connecting rather than disconnected, and never throws', () => {
    const [ctx] = contexts(1).ctxs;
    const member = new SessionMember(ctx!);
    member.report('disconnected', 'lost');
    expect(ctx!.statuses).toEqual(['connecting']);
    member.report('connecting');
    expect(ctx!.statuses).toEqual(['connecting']);
    const warn = vi.spyOn(ctx!.log, 'warn');
    ctx!.end();
    expect(() => member.report('live')).not.toThrow();
    expect(member.status).toBe('connecting');
    expect(warn).toHaveBeenCalledWith('status not reported', expect.objectContaining({ status: 'live' }));
  });

  it('moves its timers to the next oldest member, deadlines kept, when the owner leaves', () => {
    const { ctxs, shares, members } = joined(3);
    const ran: string[] = [];
    shares.setTimeout(() => ran.push('a'), 100);
    const b = shares.setTimeout(() => ran.push('b'), 150);
    vi.advanceTimersByTime(60);
    // A member that does not own the timers leaves: nothing moves.
    expect(shares.leave(members[1]!)).toBe(true);
    expect(shares.owner).toBe(ctxs[0]);
    expect(shares.leave(members[0]!)).toBe(true);
    ctxs[0]!.end(); // what the host does after the owner's stop(): its timers go
    expect(shares.owner).toBe(ctxs[2]);
    vi.advanceTimersByTime(39);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['a']);
    shares.clearTimeout(b);
    vi.advanceTimersByTime(1000);
    expect(ran).toEqual(['a']);
    expect(shares.leave(members[0]!)).toBe(false);
  });

  it('is made once per ctx.session; keeps the last member as owner; on close stops its timers and leaves ctx.session', () => {
    const { session, ctxs } = contexts(2);
    const shares = shared(ctxs[0]!, KEY, () => new SharedSession<SessionMember>(ctxs[0]!, KEY));
    expect(shared(ctxs[1]!, KEY, () => expect.unreachable())).toBe(shares);
    const member = new SessionMember(ctxs[0]!);
    shares.join(member);
    const ran: string[] = [];
    shares.setTimeout(() => ran.push('late'), 10);
    shares.leave(member);
    expect(shares.owner).toBe(ctxs[0]);
    shares.close();
    vi.advanceTimersByTime(100);
    expect(ran).toEqual([]);
    expect(session.store.has(KEY)).toBe(false);
  });

  it('runs every timer once, at its deadline, whoever joins and leaves meanwhile (property)', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('arm' as const), ms: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ op: fc.constant('clear' as const), which: fc.nat() }),
      fc.record({ op: fc.constant('join' as const) }),
      fc.record({ op: fc.constant('leave' as const), which: fc.nat() }),
      fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 120 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        vi.setSystemTime(0);
        const session = new DirectSession();
        const make = () => new DirectContext({ address: 'user://a.example/alice', config: {}, session });
        const first = make();
        const shares = new SharedSession<SessionMember>(first, KEY);
        const members = [new SessionMember(first)];
        shares.join(members[0]!);
        const deadlines = new Map<number, number>();
        const cleared = new Set<number>();
        const ran: [number, number][] = [];
        const pending = () =>
          [...deadlines.keys()].filter((id) => !cleared.has(id) && !ran.some(([r]) => r === id));
        for (const s of steps) {
          if (s.op === 'arm') {
            const at = Date.now() + s.ms;
            const id: number = shares.setTimeout(() => ran.push([id, Date.now()]), s.ms);
            deadlines.set(id, at);
          } else if (s.op === 'clear' && pending().length > 0) {
            const ids = pending();
            const id = ids[s.which % ids.length]!;
            shares.clearTimeout(id);
            cleared.add(id);
          } else if (s.op === 'join') {
            const m = new SessionMember(make());
            members.push(m);
            shares.join(m);
          } else if (s.op === 'leave' && members.length > 1) {
            // Never the last: with none left, the stub closes the session.
            const [m] = members.splice(s.which % members.length, 1);
            shares.leave(m!);
            (m!.ctx as DirectContext).end();
          } else if (s.op === 'wait') {
            vi.advanceTimersByTime(s.ms);
          }
        }
        vi.advanceTimersByTime(1000);
        const ids = ran.map(([id]) => id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const [id, when] of ran) {
          expect(cleared.has(id)).toBe(false);
          expect(when).toBe(deadlines.get(id));
        }
        expect(ids.length).toBe(deadlines.size - cleared.size);
        shares.close();
        for (const m of members) (m.ctx as DirectContext).end();
      }),
    );
  });
});
