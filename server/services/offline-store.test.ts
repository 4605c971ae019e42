import { describe, expect, it } from 'vitest';
import { OfflineStore } from './offline-store.js';

const frame = (text: string) => Buffer.from(text);

describe('OfflineStore', () => {
  it('returns what it kept for an address, oldest first, once', () => {
    const limits = { perAddress: 10, ttlMs: 1000 };
    const store = new OfflineStore(100);
    store.put('user://b.example/bob', frame('1'), 0, limits);
    store.put('user://b.example/bob', frame('2'), 1, limits);
    store.put('user://b.example/eve', frame('3'), 2, limits);
    expect(store.size).toBe(3);
    expect(store.take('user://b.example/bob', 10).map(String)).toEqual(['1', '2']);
    expect(store.take('user://b.example/bob', 10)).toEqual([]);
    expect(store.size).toBe(1);
  });

  it('drops messages past their expiry, on take and on sweep', () => {
    const limits = { perAddress: 10, ttlMs: 1000 };
    const store = new OfflineStore(100);
    store.put('user://b.example/bob', frame('old'), 0, limits);
    store.put('user://b.example/bob', frame('new'), 500, limits);
    store.put('user://b.example/eve', frame('old'), 0, limits);
    expect(store.take('user://b.example/bob', 1200).map(String)).toEqual(['new']);
    store.sweep(1200);
    expect(store.size).toBe(0);
  });

  it('refuses over the per-address bound, unless expired messages make room', () => {
    const limits = { perAddress: 2, ttlMs: 1000 };
    const store = new OfflineStore(100);
    store.put('user://b.example/bob', frame('1'), 0, limits);
    store.put('user://b.example/bob', frame('2'), 0, limits);
    expect(() => store.put('user://b.example/bob', frame('3'), 10, limits)).toThrow(
      'PF_ERR_QUEUE_FULL: user://b.example/bob is offline with 2 messages waiting',
    );
    store.put('user://b.example/bob', frame('3'), 1000, limits);
    expect(store.take('user://b.example/bob', 1000).map(String)).toEqual(['3']);
  });

  it('refuses over the total bound, naming the address', () => {
    const limits = { perAddress: 10, ttlMs: 1000 };
    const store = new OfflineStore(2);
    store.put('user://b.example/a', frame('1'), 0, limits);
    store.put('user://b.example/b', frame('2'), 0, limits);
    expect(() => store.put('user://b.example/c', frame('3'), 0, limits)).toThrow(
      'PF_ERR_QUEUE_FULL: offline store holds 2 messages (its bound); not kept for user://b.example/c',
    );
  });
});
