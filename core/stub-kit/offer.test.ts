import { describe, expect, it } from 'vitest';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import { ProtoflyError } from '../errors.js';
import { type Message, request } from '../message.js';
import { offer } from './offer.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const hello = () => request('create', BOB, ALICE, { value: { kind: 'chat', text: 'hi' } });

describe('offer', () => {
  it("tells what the runtime did with the far side's message: taken, refused for good, or busy", () => {
    const session = new DirectSession();
    const bobs = new DirectContext({ address: ALICE, config: {}, session, from: [BOB] });
    const carols = new DirectContext({
      address: ALICE,
      config: {},
      session,
      from: ['user://c.example/carol'],
    });
    const m = hello();
    // Carol's conversation may not carry Bob's message (PF_ERR_SPOOF): refused, Bob's may take it.
    expect(offer(carols, m)).toBe('refused');
    expect(offer(bobs, m)).toBe('taken');
    expect(bobs.received).toEqual([m]);
    for (const code of ['PF_ERR_FLOOD', 'PF_ERR_QUEUE_FULL'] as const) {
      bobs.send = (_: Message) => {
        throw new ProtoflyError(code, 'the runtime is busy');
      };
      expect(offer(bobs, hello())).toBe('busy');
    }
    bobs.send = () => {
      throw new Error('no code at all');
    };
    expect(offer(bobs, hello())).toBe('refused');
  });
});
