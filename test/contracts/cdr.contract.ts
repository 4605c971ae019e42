import { afterEach, describe, expect, it } from 'vitest';
import type { Cdr, CdrGroup, CdrUpdate } from '../../server/services/service.js';

/** A Cdr backend under test. */
export interface CdrSubject {
  readonly name: string;
  create(): Promise<Cdr>;
}

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const DAVE = 'user://d.example/dave';

const chat = (over: Partial<CdrUpdate> = {}): CdrUpdate => ({
  key: `chat ${ALICE} ${BOB}`,
  kind: 'chat',
  parties: [ALICE, BOB],
  protocol: 'json-ws',
  stub: 'json-ws@0.1.0',
  first: 1000,
  last: 2000,
  messages: 3,
  outcome: 'chatting',
  ...over,
});

/** A call between `parties` from `first` to `end` (omitted: still open), reported once, whole. */
const call = (id: string, over: Partial<CdrUpdate> = {}): CdrUpdate =>
  chat({ key: `call ${id}`, kind: 'call', callId: id, messages: 3, outcome: 'completed', ...over });

/** A group with its outcomes in one order, for comparing. */
const sorted = (g: CdrGroup | undefined) =>
  g && {
    ...g,
    outcomes: [...g.outcomes].sort((x, y) =>
      `${x.kind} ${x.outcome}`.localeCompare(`${y.kind} ${y.outcome}`),
    ),
  };

const NO_DURATIONS = { count: 0, totalMs: 0, p50Ms: 0, p95Ms: 0 };

/** What every Cdr backend does. */
export function cdrContract(subject: CdrSubject): void {
  describe(`Cdr contract: ${subject.name}`, () => {
    const made: Cdr[] = [];
    const make = async () => {
      const cdr = await subject.create();
      made.push(cdr);
      return cdr;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((c) => c.close?.()));
    });

    it('adds the reports of one conversation to one open record', async () => {
      const cdr = await make();
      await cdr.record([chat()]);
      // A second node's report of the same conversation, which saw it start earlier.
      await cdr.record([chat({ first: 500, last: 2500, messages: 2 })]);
      expect(await cdr.list()).toEqual([
        {
          id: expect.any(Number),
          kind: 'chat',
          parties: [ALICE, BOB],
          protocol: 'json-ws',
          stub: 'json-ws@0.1.0',
          start: 500,
          outcome: 'chatting',
          messages: 5,
        },
      ]);
    });

    it('ends a record, and opens a new one for the same parties afterwards', async () => {
      const cdr = await make();
      const call = {
        key: `call ${ALICE} ${BOB} c1`,
        kind: 'call' as const,
        callId: 'c1',
        outcome: 'ringing',
      };
      await cdr.record([chat(call)]);
      await cdr.record([
        chat({ ...call, first: 2100, last: 3000, messages: 1, outcome: 'completed', end: 3000 }),
      ]);
      await cdr.record([chat({ ...call, first: 5000, last: 5000, messages: 1, outcome: 'ringing' })]);
      const [second, first] = await cdr.list();
      expect(first).toMatchObject({
        callId: 'c1',
        start: 1000,
        end: 3000,
        outcome: 'completed',
        messages: 4,
      });
      expect(second).toMatchObject({ callId: 'c1', start: 5000, outcome: 'ringing', messages: 1 });
      expect(second).not.toHaveProperty('end');
    });

    it('lets the later report decide how a conversation stands', async () => {
      const cdr = await make();
      await cdr.record([chat({ last: 5000, outcome: 'answered' })]);
      await cdr.record([chat({ first: 1000, last: 3000, outcome: 'ringing' })]);
      expect((await cdr.list())[0]?.outcome).toBe('answered');
    });

    it('ends records left open with no message since a time, as the outcome given', async () => {
      const cdr = await make();
      await cdr.record([chat({ last: 1000 }), chat({ key: 'other', parties: [ALICE, CAROL], last: 9000 })]);
      expect(await cdr.closeStale(5000, 'interrupted')).toBe(1);
      const byParty = await cdr.list({ party: BOB });
      expect(byParty).toHaveLength(1);
      expect(byParty[0]).toMatchObject({ end: 1000, outcome: 'interrupted' });
    });

    it('lists by start time, party and count, newest first', async () => {
      const cdr = await make();
      const updates = [1, 2, 3, 4].map((i) =>
        chat({ key: `k${i}`, parties: [ALICE, i % 2 ? BOB : CAROL], first: i * 1000, last: i * 1000 }),
      );
      await cdr.record(updates);
      expect((await cdr.list()).map((r) => r.start)).toEqual([4000, 3000, 2000, 1000]);
      expect((await cdr.list({ since: 2000, until: 4000 })).map((r) => r.start)).toEqual([3000, 2000]);
      expect((await cdr.list({ party: CAROL })).map((r) => r.start)).toEqual([4000, 2000]);
      expect((await cdr.list({ limit: 1 })).map((r) => r.start)).toEqual([4000]);
    });

    it('adds up the records of a range in all, by bucket, protocol, stub and foreign domain', async () => {
      const cdr = await make();
      await cdr.record([
        chat({ first: 1000, last: 1500 }),
        call('c1', { first: 2000, last: 7000, end: 7000 }),
        call('c2', { first: 3000, last: 3000, messages: 1, outcome: 'ringing' }),
        call('c3', { first: 12_000, last: 13_000, end: 13_000 }),
        // Both parties of the domain: no foreign domain; another version of the stub.
        call('c4', {
          parties: [BOB, CAROL],
          stub: 'json-ws@0.2.0',
          first: 15_000,
          last: 45_000,
          end: 45_000,
        }),
        call('c5', {
          parties: [BOB, DAVE],
          protocol: 'sip-ws',
          stub: 'sip-ws@1.0.0',
          first: 16_000,
          last: 16_500,
          end: 16_500,
          messages: 2,
          outcome: 'rejected',
        }),
        // Outside the range.
        chat({ key: 'late', first: 40_000, last: 40_000 }),
        chat({ key: 'early', first: 999, last: 999 }),
      ]);
      const got = await cdr.aggregate({ since: 1000, until: 40_000, bucketMs: 10_000, domain: 'b.example' });
      const chatting = { kind: 'chat', outcome: 'chatting', records: 1, messages: 3 };
      const ringing = { kind: 'call', outcome: 'ringing', records: 1, messages: 1 };
      const rejected = { kind: 'call', outcome: 'rejected', records: 1, messages: 2 };
      const completed = (records: number) => ({
        kind: 'call',
        outcome: 'completed',
        records,
        messages: 3 * records,
      });
      // Durations 5000, 1000, 30000: the median is the 2nd of 3, the 95th percentile the 3rd.
      expect(sorted(got.total)).toEqual({
        outcomes: [completed(3), rejected, ringing, chatting],
        durations: { count: 3, totalMs: 36_000, p50Ms: 5000, p95Ms: 30_000 },
      });
      expect([...got.buckets.keys()].sort((a, b) => a - b)).toEqual([0, 10_000]);
      expect(sorted(got.buckets.get(0))).toEqual({
        outcomes: [completed(1), ringing, chatting],
        durations: { count: 1, totalMs: 5000, p50Ms: 5000, p95Ms: 5000 },
      });
      expect(sorted(got.buckets.get(10_000))).toEqual({
        outcomes: [completed(2), rejected],
        durations: { count: 2, totalMs: 31_000, p50Ms: 1000, p95Ms: 30_000 },
      });
      expect(new Set(got.protocols.keys())).toEqual(new Set(['json-ws', 'sip-ws']));
      expect(sorted(got.protocols.get('sip-ws'))).toEqual({ outcomes: [rejected], durations: NO_DURATIONS });
      expect(new Set(got.stubs.keys())).toEqual(new Set(['json-ws@0.1.0', 'json-ws@0.2.0', 'sip-ws@1.0.0']));
      expect(sorted(got.stubs.get('json-ws@0.2.0'))).toEqual({
        outcomes: [completed(1)],
        durations: { count: 1, totalMs: 30_000, p50Ms: 30_000, p95Ms: 30_000 },
      });
      expect(new Set(got.domains.keys())).toEqual(new Set(['a.example', 'd.example']));
      expect(sorted(got.domains.get('a.example'))).toEqual({
        outcomes: [completed(2), ringing, chatting],
        durations: { count: 2, totalMs: 6000, p50Ms: 1000, p95Ms: 5000 },
      });
      expect(sorted(got.domains.get('d.example'))).toEqual({ outcomes: [rejected], durations: NO_DURATIONS });
    });

    it('takes percentiles of call durations by nearest rank', async () => {
      const cdr = await make();
      // Durations 100, 200, ... 2000 ms, written in no order.
      const durations = Array.from({ length: 20 }, (_, i) => ((i * 7) % 20) * 100 + 100);
      await cdr.record(
        durations.map((d, i) => call(`c${i}`, { first: 1000 + i, last: 1000 + i + d, end: 1000 + i + d })),
      );
      const { total } = await cdr.aggregate({
        since: 0,
        until: 10_000,
        bucketMs: 3_600_000,
        domain: 'b.example',
      });
      expect(total.durations).toEqual({ count: 20, totalMs: 21_000, p50Ms: 1000, p95Ms: 1900 });
    });

    it('adds up an empty range to nothing', async () => {
      const cdr = await make();
      await cdr.record([chat()]);
      const got = await cdr.aggregate({ since: 5000, until: 6000, bucketMs: 1000, domain: 'b.example' });
      expect(got.total).toEqual({ outcomes: [], durations: NO_DURATIONS });
      expect([got.buckets.size, got.protocols.size, got.stubs.size, got.domains.size]).toEqual([0, 0, 0, 0]);
    });
  });
}
