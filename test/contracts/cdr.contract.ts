import { afterEach, describe, expect, it } from 'vitest';
import type { Cdr, CdrUpdate } from '../../server/services/service.js';

/** A Cdr backend under test. */
export interface CdrSubject {
  readonly name: string;
  create(): Promise<Cdr>;
}

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';

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
  });
}
