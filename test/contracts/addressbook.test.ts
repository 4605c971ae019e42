import type { AddressBook } from '../../server/services/service.js';
import { serviceOf } from '../support/backends.js';
import { LDAP_PEOPLE, LDAP_READER, startSlapd } from '../support/slapd.js';
import { addressBookContract } from './addressbook.contract.js';

addressBookContract({
  name: 'addressbook-static (config entries, identity users)',
  offers: { sourceDown: false },
  async create(people) {
    const identity = await serviceOf('identity', 'identity-static');
    const book = await serviceOf(
      'addressbook',
      'addressbook-static',
      { entries: people, syncIntervalSeconds: 0 },
      { identity },
    );
    // The source's other half: the identity's users (provisioning changes them while the node runs).
    const users = identity.users!;
    return {
      book,
      add: async (p) => void (await users.create(p.name, 'a password')),
      // A disabled user is no longer listed.
      remove: async (name) => void (await users.update(name, { disabled: true })),
      close: async () => {
        await book.close?.();
        await identity.close?.();
      },
    };
  },
});

addressBookContract({
  name: 'addressbook-ldap against slapd',
  offers: { sourceDown: true },
  async create(people) {
    const slapd = await startSlapd(['sales']);
    let book: AddressBook;
    try {
      for (const p of people) {
        await slapd.add({
          uid: p.name,
          cn: p.displayName,
          ...(p.email ? { mail: p.email } : {}),
          ...(p.phone ? { phone: p.phone } : {}),
          ...(p.groups ? { groups: p.groups } : {}),
        });
      }
      book = await serviceOf('addressbook', 'addressbook-ldap', {
        url: slapd.url,
        bindDn: LDAP_READER.dn,
        bindPassword: LDAP_READER.password,
        baseDn: LDAP_PEOPLE,
        syncIntervalSeconds: 0,
      });
    } catch (err) {
      // A world that never was is closed by nobody else: its slapd would outlive the test.
      await slapd.close();
      throw err;
    }
    return {
      book,
      add: (p) => slapd.add({ uid: p.name, cn: p.displayName }),
      remove: (name) => slapd.remove(name),
      source: slapd,
      close: async () => {
        await book.close?.();
        await slapd.close();
      },
    };
  },
});
