import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressBookStatus } from '../../core/generated/types.js';
import type { AddressBook } from '../../server/services/service.js';
import { BACKENDS_DOMAIN } from '../support/backends.js';

/** A person in an address book's source. */
export interface Person {
  readonly name: string;
  readonly displayName: string;
  readonly email?: string;
  readonly phone?: string;
  readonly groups?: readonly string[];
}

/** An address book over a source the test can change. */
export interface AddressBookWorld {
  readonly book: AddressBook;
  /** Adds a person to the source (not to the copy: that takes a sync). */
  add(person: Person): Promise<void>;
  /** Takes a person `add` added out of the source. */
  remove(name: string): Promise<void>;
  /** Stops and restarts the source, for a backend whose source is a server that can be down. */
  readonly source?: { stop(): Promise<void>; start(): Promise<void> };
  close(): Promise<void>;
}

/** An AddressBook backend under test. */
export interface AddressBookSubject {
  readonly name: string;
  /** An address book whose source holds `people`, synchronised once, and on demand only. */
  create(people: readonly Person[]): Promise<AddressBookWorld>;
  /** Its source is a server that can be down (its worlds have `source`). */
  readonly offers: { readonly sourceDown: boolean };
}

const at = (name: string) => `user://${BACKENDS_DOMAIN}/${name}`;

/** The people every property starts with. */
export const PEOPLE: readonly Person[] = [
  {
    name: 'alice',
    displayName: 'Alice Liddell',
    email: 'alice@example.test',
    phone: '+44 1865 000001',
    groups: ['sales'],
  },
  { name: 'bob', displayName: 'Bob Malice', email: 'bob@example.test' },
  { name: 'carol', displayName: 'Carol (Sales) *', email: 'carol@example.test', groups: ['sales'] },
  { name: 'dan', displayName: 'Dan \\ Backslash' },
];

/** The property that needs `offers.sourceDown`, and what is checked instead where it is not offered. */
const SOURCE_DOWN = 'a source that is down leaves the last good copy, and says so until it is back';

type World = () => Promise<AddressBookWorld>;
type Property = (subject: AddressBookSubject, world: World) => Promise<void>;

/**
 * What every AddressBook backend does, one property per test. Each world starts from its own
 * source with PEOPLE; the properties change the source and ask for syncs on demand.
 */
export const ADDRESS_BOOK_PROPERTIES: Readonly<Record<string, Property>> = {
  'finds by prefix and substring of name, display name, e-mail and phone, case-insensitively, prefixes first':
    async (_, world) => {
      const { book } = await world();
      expect(book.search('ALI', 10)).toEqual({
        entries: [
          {
            address: at('alice'),
            displayName: 'Alice Liddell',
            email: 'alice@example.test',
            phone: '+44 1865 000001',
            groups: ['sales'],
          },
          { address: at('bob'), displayName: 'Bob Malice', email: 'bob@example.test', groups: [] },
        ],
        more: false,
      });
      expect(book.search('1865', 10).entries.map((e) => e.address)).toEqual([at('alice')]);
      expect(book.search('carol@', 10).entries.map((e) => e.address)).toEqual([at('carol')]);
    },

  'bounds what it answers, and says when more matched': async (_, world) => {
    const { book } = await world();
    const all = book.search('', 100);
    expect(all.entries).toHaveLength(PEOPLE.length);
    expect(all.more).toBe(false);
    const two = book.search('', 2);
    expect(two.entries).toHaveLength(2);
    expect(two.more).toBe(true);
    expect(book.search('example.test', 1)).toEqual({ entries: [expect.anything()], more: true });
  },

  'looks an entry up by its address, and nothing else': async (_, world) => {
    const { book } = await world();
    expect(book.lookup(at('carol'))?.groups).toEqual(['sales']);
    expect(book.lookup(at('nobody'))).toBeUndefined();
    expect(book.lookup('user://other.example/alice')).toBeUndefined();
    expect(book.lookup('alice')).toBeUndefined();
  },

  'a person added to the source appears after a sync, not before': async (_, world) => {
    const w = await world();
    await w.add({ name: 'erin', displayName: 'erin' });
    expect(w.book.lookup(at('erin'))).toBeUndefined();
    const status = await w.book.sync();
    expect(status).toMatchObject({ ok: true, entries: PEOPLE.length + 1 });
    expect(w.book.lookup(at('erin'))).toMatchObject({ address: at('erin'), displayName: 'erin' });
    expect(w.book.search('eri', 5).entries.map((e) => e.address)).toEqual([at('erin')]);
  },

  'a person taken out of the source disappears after a sync': async (_, world) => {
    const w = await world();
    await w.add({ name: 'hank', displayName: 'hank' });
    await w.book.sync();
    await w.remove('hank');
    expect(w.book.lookup(at('hank'))).toBeDefined();
    expect(await w.book.sync()).toMatchObject({ ok: true, entries: PEOPLE.length });
    expect(w.book.lookup(at('hank'))).toBeUndefined();
    expect(w.book.search('hank', 5).entries).toEqual([]);
  },

  'filter metacharacters in a query are taken literally, never as a pattern': async (_, world) => {
    const { book } = await world();
    const found = (q: string) => book.search(q, 100).entries.map((e) => e.address);
    expect(found('*')).toEqual([at('carol')]);
    expect(found('(sales)')).toEqual([at('carol')]);
    expect(found('\\')).toEqual([at('dan')]);
    expect(found(')(uid=*')).toEqual([]);
    expect(found('*)(|(objectClass=*')).toEqual([]);
    expect(found('a\u0000')).toEqual([]);
    expect(found('\\2a')).toEqual([]);
    // Whatever the query, an answer is an entry containing it, and no entry containing it is left out.
    const all = book.search('', 100).entries;
    fc.assert(
      fc.property(
        fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'l', '*', '(', ')', '\\', '\0', ' ', 'S') }),
        (q) => {
          const lower = q.toLowerCase();
          const contains = all.filter((e) =>
            [
              e.address.slice(e.address.lastIndexOf('/') + 1),
              e.displayName,
              e.email ?? '',
              e.phone ?? '',
            ].some((f) => f.toLowerCase().includes(lower)),
          );
          expect(new Set(found(q))).toEqual(new Set(contains.map((e) => e.address)));
        },
      ),
    );
  },

  [SOURCE_DOWN]: async (subject, world) => {
    const w = await world();
    if (!w.source) throw new Error(`${subject.name} says it offers sourceDown, but its world has no source`);
    const told: AddressBookStatus[] = [];
    w.book.onSync((s) => told.push(s));
    await w.source.stop();
    const failed = await w.book.sync();
    expect(failed).toMatchObject({ ok: false, entries: PEOPLE.length, error: { code: 'PF_ERR_DIRECTORY' } });
    expect(told).toEqual([failed]);
    expect(w.book.lookup(at('alice'))?.displayName).toBe('Alice Liddell');
    expect(w.book.search('bob', 5).entries).toHaveLength(1);
    await w.source.start();
    await w.add({ name: 'frank', displayName: 'frank' });
    expect(await w.book.sync()).toMatchObject({ ok: true, entries: PEOPLE.length + 1 });
    expect(told).toHaveLength(2);
    expect(w.book.status().error).toBeUndefined();
  },

  'syncs asked for together read the source once': async (_, world) => {
    const w = await world();
    await w.add({ name: 'gina', displayName: 'gina' });
    const [a, b] = await Promise.all([w.book.sync(), w.book.sync()]);
    expect(a).toBe(b);
    expect(w.book.lookup(at('gina'))).toBeDefined();
  },
};

const noSourceDown: Property = async (_, world) => {
  const w = await world();
  expect(w.source).toBeUndefined();
  expect(await w.book.sync()).toMatchObject({ ok: true });
};

/** Runs every property against `subject`, each as one test; one it does not offer is a test saying so. */
export function addressBookContract(subject: AddressBookSubject): void {
  describe(`AddressBook contract: ${subject.name}`, () => {
    const made: AddressBookWorld[] = [];
    afterEach(async () => {
      await Promise.all(made.splice(0).map((w) => w.close()));
    });
    const world: World = async () => {
      const w = await subject.create(PEOPLE);
      made.push(w);
      return w;
    };
    for (const [name, property] of Object.entries(ADDRESS_BOOK_PROPERTIES)) {
      if (name !== SOURCE_DOWN || subject.offers.sourceDown) it(name, () => property(subject, world));
      else
        it(`${name}: not offered (its source is the domain's own data)`, () => noSourceDown(subject, world));
    }
  });
}
