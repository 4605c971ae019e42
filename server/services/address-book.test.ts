import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProtoflyError } from '../../core/errors.js';
import { type SourceRecord, SyncedAddressBook } from './address-book.js';

/** A source whose records and failure the test sets, counting its reads. */
function source(records: SourceRecord[]) {
  const s = {
    records,
    failure: undefined as Error | undefined,
    reads: 0,
    async read() {
      s.reads++;
      if (s.failure) throw s.failure;
      return s.records;
    },
  };
  return s;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SyncedAddressBook', () => {
  it('brings its copy up to date every interval on its own, and no more once closed', async () => {
    vi.useFakeTimers();
    const src = source([{ name: 'alice' }]);
    const book = await new SyncedAddressBook({
      domain: 'a.example',
      source: src,
      intervalMs: 60_000,
    }).start();
    expect(src.reads).toBe(1);
    src.records = [{ name: 'alice' }, { name: 'bob' }];
    await vi.advanceTimersByTimeAsync(59_999);
    expect(book.lookup('user://a.example/bob')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(book.lookup('user://a.example/bob')).toBeDefined();
    expect(src.reads).toBe(2);
    await book.close();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(src.reads).toBe(2);
  });

  it('leaves out and counts records that make no entry, never half-taking one', async () => {
    const src = source([
      { name: 'alice', displayName: 'Alice' },
      { name: 'has space' },
      { name: '' },
      { name: 'long', phone: '1'.repeat(65) },
      { name: 'groups', groups: Array.from({ length: 65 }, (_, i) => `g${i}`) },
      { name: 'empty-group', groups: [''] },
      { name: 'alice', displayName: 'Second Alice' },
    ]);
    const book = await new SyncedAddressBook({ domain: 'a.example', source: src, intervalMs: 0 }).start();
    expect(book.status()).toMatchObject({ ok: true, entries: 1, skipped: 6 });
    expect(book.lookup('user://a.example/alice')?.displayName).toBe('Alice');
  });

  it('fails a sync over its bound and keeps the copy; a source error without a code is PF_ERR_DIRECTORY', async () => {
    const src = source([{ name: 'a' }, { name: 'b' }]);
    const book = await new SyncedAddressBook({
      domain: 'a.example',
      source: src,
      intervalMs: 0,
      maxEntries: 2,
    }).start();
    src.records = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    expect(await book.sync()).toMatchObject({
      ok: false,
      entries: 2,
      error: { code: 'PF_ERR_DIRECTORY', message: expect.stringContaining('bound of 2') },
    });
    src.failure = new Error('socket hang up');
    expect((await book.sync()).error).toEqual({ code: 'PF_ERR_DIRECTORY', message: 'socket hang up' });
    src.failure = new ProtoflyError('PF_ERR_TIMEOUT', 'too slow');
    expect((await book.sync()).error?.code).toBe('PF_ERR_TIMEOUT');
    expect(book.search('', 10).entries).toHaveLength(2);
  });

  it('starts with an empty copy that says why when its source is down at first', async () => {
    const src = source([]);
    src.failure = new Error('ECONNREFUSED');
    const book = await new SyncedAddressBook({ domain: 'a.example', source: src, intervalMs: 0 }).start();
    expect(book.status()).toEqual({
      entries: 0,
      ok: false,
      skipped: 0,
      error: { code: 'PF_ERR_DIRECTORY', message: 'ECONNREFUSED' },
    });
    expect(book.search('a', 5)).toEqual({ entries: [], more: false });
  });
});
