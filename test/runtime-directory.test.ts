import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import { hashPassword } from '../plugins/backends/identity-static/password.js';
import { developmentPolicy } from '../runtime/policy.js';
import { type LocalDomains, startLocalDomains } from '../server/domain.js';

/**
 * `runtime.directory(domain)`: the address book searched through a runtime, against real
 * messaging nodes with the default address book (addressbook-static over the identity's users),
 * over the domain's json-ws stub, fetched and verified as for any conversation.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://a.example/bob';
const BOBBY = 'user://a.example/bobby';

let dir: string;
let local: LocalDomains;
let alice: NodeRuntime;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-runtime-directory-'));
  const hash = await hashPassword('unused');
  local = await startLocalDomains(['a.example', 'b.example'], dir, {
    users: new Map([
      ['alice', hash],
      ['bob', hash],
      ['bobby', hash],
    ]),
    log: pino({ level: 'silent' }),
  });
  const home = local.byName.get('a.example')!.identity;
  alice = createNodeRuntime({
    identity: { address: ALICE, token: (audience) => home.issue(ALICE, 300, audience) },
    catalogues: local.peers,
    policy: developmentPolicy,
    dataDir: false,
  });
}, 60_000);
afterAll(async () => {
  await alice?.close();
  await local?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('runtime.directory()', { timeout: 60_000 }, () => {
  it("searches the home domain's address book through its node, typed, with its limit", async () => {
    const book = alice.runtime.directory();
    expect(book.address).toBe('domain://msg-node.a.example/directory');
    const found = await book.search('bob');
    expect(found.more).toBe(false);
    expect(found.entries.map((e) => e.address)).toEqual([BOB, BOBBY]);
    expect(found.entries[0]).toMatchObject({ address: BOB, displayName: expect.any(String), groups: [] });
    expect(await book.search('', { limit: 1 })).toMatchObject({ entries: [{}], more: true });
    expect(await book.search('nobody here')).toEqual({ entries: [], more: false });
    // The requests went on one conversation with the directory, carried by a.example's stub.
    expect(alice.runtime.conversations.get(book.address)?.carrier.domain).toBe('a.example');
  });

  it('looks one user up, and answers undefined for an address it does not list', async () => {
    const book = alice.runtime.directory('a.example');
    expect(await book.lookup(BOB)).toMatchObject({ address: BOB });
    expect(await book.lookup('user://a.example/nobody')).toBeUndefined();
  });

  it('refuses params out of the schema before sending them (PF_ERR_SCHEMA, naming the field)', async () => {
    const book = alice.runtime.directory();
    await expect(book.search('x'.repeat(129))).rejects.toMatchObject({
      code: 'PF_ERR_SCHEMA',
      detail: { pointer: '/query' },
    });
    await expect(book.search('a', { limit: 1000 })).rejects.toMatchObject({
      code: 'PF_ERR_SCHEMA',
      detail: { pointer: '/limit' },
    });
    await expect(book.lookup('hyperty://a.example/h1')).rejects.toMatchObject({ code: 'PF_ERR_SCHEMA' });
  });

  it("gives another domain's refusal with the node's own code (PF_ERR_FORBIDDEN)", async () => {
    const err = await alice.runtime
      .directory('b.example')
      .search('')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      message: `PF_ERR_FORBIDDEN: the directory of b.example: ${ALICE} may not search b.example's address book`,
      detail: { code: 403, domain: 'b.example' },
    });
  });

  it('refuses a domain that is no domain name (PF_ERR_ADDRESS)', () => {
    expect(() => alice.runtime.directory('Not A Domain')).toThrow(
      expect.objectContaining({ code: 'PF_ERR_ADDRESS' }),
    );
  });
});
