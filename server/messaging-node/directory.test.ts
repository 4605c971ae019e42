import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { request } from '../../core/message.js';
import { SyncedAddressBook } from '../services/address-book.js';
import { Directory } from './directory.js';
import { NodeMetrics } from './metrics.js';

const DOMAIN = 'b.example';
const BOB = `user://${DOMAIN}/bob`;

async function directory() {
  const book = await new SyncedAddressBook({
    domain: DOMAIN,
    source: { read: async () => [{ name: 'alice', displayName: 'Alice' }] },
    intervalMs: 0,
  }).start();
  return new Directory(DOMAIN, book, new NodeMetrics(), pino({ level: 'silent' }));
}

describe('Directory', () => {
  it("answers the domain's own users, and refuses other domains' (PF_ERR_FORBIDDEN)", async () => {
    const d = await directory();
    const search = { method: 'protofly.directory.search', params: { query: 'ali' } };
    expect(d.answer(request('execute', BOB, d.address, search), BOB).body).toEqual({
      code: 200,
      description: 'OK',
      value: {
        entries: [{ address: `user://${DOMAIN}/alice`, displayName: 'Alice', groups: [] }],
        more: false,
      },
    });
    const eve = 'user://a.example/eve';
    expect(() => d.answer(request('execute', eve, d.address, search), eve)).toThrow(
      /PF_ERR_FORBIDDEN: user:\/\/a.example\/eve may not search b.example's address book/,
    );
    d.close();
  });
});
