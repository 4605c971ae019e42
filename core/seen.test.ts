import { describe, expect, it } from 'vitest';
import type { Message } from './message.js';
import { Seen, SeenMessages } from './seen.js';

describe('Seen', () => {
  it('reports a repeat within its capacity and forgets the oldest beyond it', () => {
    const seen = new Seen(2);
    expect([seen.add('a'), seen.add('b'), seen.add('a')]).toEqual([true, true, false]);
    expect(seen.add('c')).toBe(true); // forgets 'a'
    expect([seen.add('b'), seen.add('a')]).toEqual([false, true]);
  });
});

describe('SeenMessages', () => {
  const chat = (id: string, from = 'user://a.example/alice'): Message => ({
    id,
    type: 'create',
    from,
    to: 'user://b.example/bob',
    body: { value: { text: 'hi' } },
  });
  const answer = (id: string, code: number, from = 'user://b.example/bob'): Message => ({
    id,
    type: 'response',
    from,
    to: 'user://a.example/alice',
    body: { code },
  });

  it('drops a repeat: same sender, id and type', () => {
    const seen = new SeenMessages(4);
    expect(seen.has(chat('m1'))).toBe(false);
    expect(seen.add(chat('m1'))).toBe(true);
    expect(seen.has(chat('m1'))).toBe(true);
    expect(seen.add(chat('m1'))).toBe(false);
  });

  it('tells apart another sender reusing an id, and a final response after a provisional one', () => {
    const seen = new SeenMessages(4);
    expect(seen.add(chat('m1'))).toBe(true);
    expect(seen.add(chat('m1', 'user://c.example/carol'))).toBe(true);
    expect(seen.add(answer('m1', 100))).toBe(true);
    expect(seen.add(answer('m1', 200))).toBe(true);
    expect(seen.has(answer('m1', 200))).toBe(true);
    expect([seen.add(answer('m1', 200)), seen.add(chat('m1', 'user://c.example/carol'))]).toEqual([
      false,
      false,
    ]);
    expect(seen.has(answer('m1', 180))).toBe(false);
  });

  it('forgets a message once capacity others came after the first with its id', () => {
    const seen = new SeenMessages(2);
    seen.add(chat('m1'));
    seen.add(chat('m2'));
    expect(seen.has(chat('m1'))).toBe(true);
    seen.add(chat('m3'));
    expect(seen.has(chat('m1'))).toBe(false);
    expect(seen.add(chat('m1'))).toBe(true);
  });
});
