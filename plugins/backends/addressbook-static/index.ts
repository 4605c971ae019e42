import { ProtoflyError } from '../../../core/errors.js';
import { entryOf, type SourceRecord, SyncedAddressBook } from '../../../server/services/address-book.js';
import { type AddressBook, type Backend, TOKENS } from '../../../server/services/service.js';

/**
 * addressbook-static: the embedded default. Its source is the domain's own data: the entries of
 * its config, over the enabled users of the identity's directory (when it keeps one), which
 * provisioning changes while the node runs, hence the syncs.
 */
const backend: Backend<'addressbook'> = {
  service: 'addressbook',
  create(ctx): Promise<AddressBook> {
    const { entries, users, syncIntervalSeconds } = ctx.config as {
      entries: SourceRecord[];
      users: boolean;
      syncIntervalSeconds: number;
    };
    // The domain's own list is refused at start rather than thinned at each sync.
    entries.forEach((e, i) => {
      if (!entryOf(ctx.domain, e)) {
        throw new ProtoflyError(
          'PF_ERR_CONFIG',
          `services.addressbook.config.entries/${i}: '${e.name}' is no user name (letters, digits and ._~-, at most 128) or a field is over its bound`,
          { name: e.name },
        );
      }
    });
    const directory = users ? ctx.resolve(TOKENS.identity).users : undefined;
    const listed = new Set(entries.map((e) => e.name));
    return new SyncedAddressBook({
      domain: ctx.domain,
      source: {
        async read() {
          const enabled = (await directory?.list())?.filter((u) => !u.disabled && !listed.has(u.name)) ?? [];
          return [...enabled.map((u) => ({ name: u.name })), ...entries];
        },
      },
      intervalMs: syncIntervalSeconds * 1000,
    }).start();
  },
};
export default backend;
