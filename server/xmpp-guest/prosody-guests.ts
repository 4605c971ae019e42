import { join } from 'node:path';
import { writeAtomic } from '../../node/files.js';
import { accountFile, accountName } from '../prosody.js';
import type { GuestNaming } from '../sip-guest/guest-service.js';
import type { GuestStore } from '../sip-guest/kamailio-guests.js';

/** What a guest's name may hold: the localpart characters no stringprep or nodeprep changes. */
const LOCALPART = /^[a-z0-9._-]+$/;

/**
 * XMPP's: the account `<name>~<home>` (RFC 7622 allows `~` in a localpart), the address
 * `xmpp:<name>~<home>@<domain>`. Only names Prosody keeps as they are (lower case letters,
 * digits, `.`, `_`, `-`) are admitted: nodeprep would fold `Alice` onto `alice`, two users onto
 * one account.
 */
export const xmppGuestNaming: GuestNaming = (name, home, domain) => {
  const username = `${name}~${home}`;
  if (!LOCALPART.test(name) || !LOCALPART.test(home))
    return { refused: `${username} cannot be an XMPP account here (a-z, 0-9, '.', '_', '-')` };
  return { username, aor: `xmpp:${username}@${domain}` };
};

/**
 * Guest accounts in Prosody's internal storage (`authentication = "internal_plain"`, as
 * server/prosody.ts configures it): the account file written whole, atomically, with its
 * password and `protofly_guest_until`. Prosody reads account files on each log-in, so the next
 * one sees it. The guest module (mod_protofly_guests.lua) removes the account when the guest's
 * last resource unbinds, or once its time has passed unused.
 *
 * @param accountsDir the host's accounts directory (`Prosody.accountsDir`).
 */
export function prosodyGuests(accountsDir: string): GuestStore {
  return {
    async set(username, password, expires) {
      const until = Math.ceil(Date.now() / 1000) + expires;
      await writeAtomic(
        join(accountsDir, accountName(username)),
        accountFile(password, { protofly_guest_until: until }),
        0o600,
      );
    },
  };
}
