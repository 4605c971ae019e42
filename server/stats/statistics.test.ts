import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceOf } from '../../test/support/backends.js';
import { Policy } from '../policy/policy.js';
import type { Cdr, CdrUpdate } from '../services/service.js';
import { MAX_DOMAINS, statistics, statsRange } from './statistics.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-12-02T18:30:00Z');
const BOB = 'user://b.example/bob';

const query = (q: Record<string, string>) => new URLSearchParams(q);

describe('statsRange', () => {
  it('defaults to the 24 hours to now by hour, an empty parameter being its default', () => {
    expect(statsRange(query({}), NOW)).toEqual({ from: NOW - DAY, to: NOW, bucket: 'hour' });
    expect(statsRange(query({ from: '', to: '', bucket: 'day' }), NOW)).toEqual({
      from: NOW - DAY,
      to: NOW,
      bucket: 'day',
    });
    expect(statsRange(query({ to: '2026-12-01' }), NOW)).toEqual({
      from: Date.parse('2026-11-30T00:00:00Z'),
      to: Date.parse('2026-12-01T00:00:00Z'),
      bucket: 'hour',
    });
  });

  it('takes up to 1000 buckets, counted from the start of the first', () => {
    // 2026-01-01 + 1000 days = 2028-09-27.
    expect(() => statsRange(query({ from: '2026-01-01', to: '2028-09-27', bucket: 'day' }))).not.toThrow();
    expect(() =>
      statsRange(query({ from: '2026-01-01T00:30:00Z', to: '2028-09-27', bucket: 'day' })),
    ).not.toThrow();
    expect(() =>
      statsRange(query({ from: '2026-01-01', to: '2028-09-27T00:00:01Z', bucket: 'day' })),
    ).toThrow(/PF_ERR_SCHEMA: statistics query: 1001 buckets of a day; at most 1000/);
  });

  it('refuses times with no zone, no real date, and unknown parameters', () => {
    expect(() => statsRange(query({ from: '2026-12-01T08:00' }))).toThrow(/PF_ERR_SCHEMA: .*\/from/);
    expect(() => statsRange(query({ from: '2026-12-99' }))).toThrow(
      /PF_ERR_SCHEMA: statistics query: from '2026-12-99' is no real date/,
    );
    expect(() => statsRange(query({ since: '2026-12-01' }))).toThrow(/PF_ERR_SCHEMA: .*since/);
  });
});

describe('statistics', () => {
  // The domain's CDR backend, cdr-sqlite, as a node loads it.
  let cdr: Cdr;
  beforeEach(async () => {
    cdr = await serviceOf('cdr', 'cdr-sqlite');
  });
  afterEach(() => cdr.close?.());

  const call = (key: string, peer: string, outcome: string, first: number, end?: number): CdrUpdate => ({
    key,
    kind: 'call',
    parties: [peer, BOB],
    callId: key,
    protocol: 'json-ws',
    stub: 'json-ws@0.1.0',
    first,
    last: end ?? first,
    messages: 2,
    outcome,
    ...(end === undefined ? {} : { end }),
  });

  it('classifies call outcomes, fills empty buckets and counts the policy by decision', async () => {
    const t = Date.parse('2026-12-02T10:00:00Z');
    await cdr.record([
      call('1', 'user://a.example/alice', 'completed', t + 60_000, t + 120_000),
      call('2', 'user://a.example/alice', 'answered', t + 1000),
      call('3', 'user://a.example/alice', 'cancelled', t + 2000, t + 3000),
      call('4', 'user://a.example/alice', 'unanswered', t + HOUR, t + 2 * HOUR),
      call('5', 'user://c.example/carol', 'interrupted', t + HOUR, t + HOUR),
      call('6', 'user://c.example/carol', 'rejected', t + HOUR, t + HOUR),
      call('7', 'user://c.example/carol', 'ringing', t + HOUR),
    ]);
    const policy = new Policy('b.example', {
      rules: [{ name: 'slow', action: 'allow', to: [BOB], rate: { perSecond: 0.001, burst: 1 } }],
    });
    for (let i = 0; i < 2; i++) policy.decide('user://a.example/alice', BOB, 'chat', t);
    policy.decide('user://a.example/alice', 'user://b.example/dan', 'chat', t);
    // From 09:30: the first bucket starts at 09:00, the last is 12:00.
    const stats = await statistics(
      { domain: 'b.example', cdr, policy, refused: new Map([['PF_ERR_FLOOD', 3]]) },
      { from: t - HOUR / 2, to: t + 2 * HOUR + 1, bucket: 'hour' },
    );
    expect(stats.total.calls).toEqual({
      count: 7,
      messages: 14,
      outcomes: {
        completed: 1,
        answered: 1,
        cancelled: 1,
        unanswered: 1,
        interrupted: 1,
        rejected: 1,
        ringing: 1,
      },
      answered: 2,
      refused: 1,
      failed: 3,
      durations: { count: 1, totalMs: 60_000, meanMs: 60_000, p50Ms: 60_000, p95Ms: 60_000 },
    });
    expect(stats.buckets.map((b) => [b.start, b.figures.calls.count])).toEqual([
      ['2026-12-02T09:00:00.000Z', 0],
      ['2026-12-02T10:00:00.000Z', 3],
      ['2026-12-02T11:00:00.000Z', 4],
      ['2026-12-02T12:00:00.000Z', 0],
    ]);
    expect(stats.buckets[0]!.figures).toEqual({
      chats: { count: 0, messages: 0, outcomes: {} },
      calls: {
        count: 0,
        messages: 0,
        outcomes: {},
        answered: 0,
        refused: 0,
        failed: 0,
        durations: { count: 0, totalMs: 0, meanMs: 0, p50Ms: 0, p95Ms: 0 },
      },
    });
    // Most conversations first.
    expect(Object.keys(stats.domains)).toEqual(['a.example', 'c.example']);
    expect(stats.policy).toEqual({
      allowed: 2,
      refused: 0,
      flood: 1,
      rules: { slow: { allowed: 1, refused: 0, flood: 1 }, default: { allowed: 1, refused: 0, flood: 0 } },
    });
    expect(stats.refusals).toEqual({ PF_ERR_FLOOD: 3 });
  });

  it(`lists the ${MAX_DOMAINS} foreign domains with the most conversations`, async () => {
    const t = Date.parse('2026-12-02T10:00:00Z');
    const updates = Array.from({ length: MAX_DOMAINS + 1 }, (_, i) =>
      call(`d${i}`, `user://d${i}.example/x`, 'rejected', t),
    );
    // One more conversation for d0: it leads.
    updates.push(call('d0-again', 'user://d0.example/x', 'rejected', t));
    await cdr.record(updates);
    const stats = await statistics({ domain: 'b.example', cdr }, { from: t, to: t + HOUR, bucket: 'hour' });
    const names = Object.keys(stats.domains);
    expect(names).toHaveLength(MAX_DOMAINS);
    expect(names[0]).toBe('d0.example');
    expect(stats.domains['d0.example']!.calls.count).toBe(2);
    expect(stats.total.calls.count).toBe(MAX_DOMAINS + 2);
  });
});
