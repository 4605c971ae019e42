import { SyncedAddressBook } from '../../../server/services/address-book.js';
import type { AddressBook, Backend } from '../../../server/services/service.js';
import { type LdapSettings, ldapSource } from './ldap-source.js';

/** addressbook-ldap: the domain's address book copied from an LDAP directory. */
const backend: Backend<'addressbook'> = {
  service: 'addressbook',
  create(ctx): Promise<AddressBook> {
    const settings = ctx.config as unknown as LdapSettings & {
      syncIntervalSeconds: number;
      maxEntries: number;
    };
    return new SyncedAddressBook({
      domain: ctx.domain,
      source: ldapSource(settings),
      intervalMs: settings.syncIntervalSeconds * 1000,
      maxEntries: settings.maxEntries,
    }).start();
  },
};
export default backend;
