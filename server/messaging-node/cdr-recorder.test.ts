import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConversationBody } from '../../core/generated/types.js';
import { request, response } from '../../core/message.js';
import { serviceOf } from '../../test/support/backends.js';
import { CdrRecorder } from './cdr-recorder.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const IDLE = 60_000;
const body = (value: object) => ({ value });

async function recorder() {
  const cdr = await serviceOf('cdr', 'cdr-sqlite');
  const rec = new CdrRecorder(
    { service: cdr, stub: 'json-ws@0.1.0', idleMs: IDLE },
    pino({ level: 'silent' }),
  );
  return { cdr, rec };
}

describe('CdrRecorder', () => {
  it('counts a chat both ways in one record, ignoring responses and presence, and ends it when idle', async () => {
    const { cdr, rec } = await recorder();
    const hi = request('create', ALICE, BOB, body({ kind: 'chat', text: 'hi' }));
    rec.seen(hi, 1000);
    rec.seen(response(hi, 200), 1001);
    rec.seen(request('create', BOB, ALICE, body({ kind: 'chat', text: 'hello' })), 2000);
    rec.seen(request('update', BOB, ALICE, body({ kind: 'presence', status: 'online' })), 2500);
    await rec.flush(3000);
    expect(await cdr.list()).toMatchObject([
      { kind: 'chat', parties: [ALICE, BOB], start: 1000, messages: 2, outcome: 'chatting' },
    ]);
    await rec.flush(2000 + IDLE);
    expect(await cdr.list()).toMatchObject([{ end: 2000, outcome: 'completed', messages: 2 }]);
  });

  it('follows a call by its callId: answered then ended, cancelled, rejected, unanswered', async () => {
    const { cdr, rec } = await recorder();
    // An offer opens (create); the rest of a call updates it, as Conversation sends them.
    const call = (from: string, to: string, value: ConversationBody, at: number) =>
      rec.seen(request(value.kind === 'offer' ? 'create' : 'update', from, to, body(value)), at);
    call(ALICE, BOB, { kind: 'offer', callId: 'c1', sdp: 'o' }, 1000);
    call(BOB, ALICE, { kind: 'answer', callId: 'c1', sdp: 'a' }, 1100);
    call(ALICE, BOB, { kind: 'bye', callId: 'c1' }, 5000);
    call(ALICE, BOB, { kind: 'offer', callId: 'c2', sdp: 'o' }, 6000);
    call(ALICE, BOB, { kind: 'bye', callId: 'c2' }, 6500);
    call(ALICE, BOB, { kind: 'offer', callId: 'c3', sdp: 'o' }, 7000);
    call(BOB, ALICE, { kind: 'reject', callId: 'c3', code: 486 }, 7100);
    call(ALICE, BOB, { kind: 'offer', callId: 'c4', sdp: 'o' }, 8000);
    await rec.flush(8000 + IDLE);
    const byCall = Object.fromEntries(
      (await cdr.list()).map((r) => [r.callId, [r.outcome, r.end, r.messages]]),
    );
    expect(byCall).toEqual({
      c1: ['completed', 5000, 3],
      c2: ['cancelled', 6500, 2],
      c3: ['rejected', 7100, 2],
      c4: ['unanswered', 8000, 1],
    });
  });

  it('ends, as interrupted, what a node that stopped left open long ago', async () => {
    const { cdr, rec } = await recorder();
    await cdr.record([
      {
        key: `chat ${ALICE} ${BOB}`,
        kind: 'chat',
        parties: [ALICE, BOB],
        protocol: 'json-ws',
        stub: 'json-ws@0.1.0',
        first: 1000,
        last: 1000,
        messages: 4,
        outcome: 'chatting',
      },
    ]);
    await rec.start();
    await rec.close();
    expect(await cdr.list()).toMatchObject([{ end: 1000, outcome: 'interrupted', messages: 4 }]);
  });
});
