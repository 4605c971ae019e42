import { Client, type Entry, FilterParser } from 'ldapts';
import { ProtoflyError } from '../../../core/errors.js';
import type { AddressSource, SourceRecord } from '../../../server/services/address-book.js';

/** The directory part of addressbook-ldap's configuration (its protofly.json), defaults filled in. */
export interface LdapSettings {
  readonly url: string;
  readonly bindDn?: string;
  readonly bindPassword?: string;
  readonly baseDn: string;
  readonly scope: 'one' | 'sub';
  readonly filter: string;
  readonly attributes: {
    readonly name: string;
    readonly displayName?: string;
    readonly email?: string;
    readonly phone?: string;
    readonly groups?: string;
  };
  readonly maxEntries: number;
  readonly timeoutSeconds: number;
}

/** Entries asked for per page (RFC 2696), under the server's usual size limit (OpenLDAP: 500). */
const PAGE_SIZE = 200;
/** An attribute description's name (RFC 4512 §2.5: a keystring). */
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/**
 * The people of an LDAP directory, read anew on each call: connect, bind (the configured DN,
 * or anonymously), one paged search of `baseDn` with the configured filter, unbind. A new
 * connection each time, so a directory that went away and came back needs nothing reset. No
 * user input is ever part of the search: users search the node's copy (SyncedAddressBook), so
 * the filter is the administrator's, checked at start.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` at creation for a filter that is not RFC 4515.
 */
export function ldapSource(settings: LdapSettings): AddressSource {
  const url = URL.parse(settings.url);
  if (!url || !['ldap:', 'ldaps:'].includes(url.protocol) || !url.hostname || url.pathname.length > 1) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `services.addressbook.config.url: '${settings.url}' is not ldap://host[:port] or ldaps://host[:port]`,
      { url: settings.url },
    );
  }
  for (const [field, attribute] of Object.entries(settings.attributes)) {
    if (!ATTRIBUTE.test(attribute)) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `services.addressbook.config.attributes.${field}: '${attribute}' is not an LDAP attribute name`,
        { attribute },
      );
    }
  }
  try {
    FilterParser.parseString(settings.filter);
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `services.addressbook.config.filter: '${settings.filter}' is not an LDAP filter (RFC 4515): ${(err as Error).message}`,
      { filter: settings.filter },
    );
  }
  const { attributes: map } = settings;
  const wanted = [map.name, map.displayName, map.email, map.phone, map.groups].filter(
    (a): a is string => a !== undefined,
  );
  return {
    async read() {
      const timeout = settings.timeoutSeconds * 1000;
      const client = new Client({ url: settings.url, timeout, connectTimeout: timeout });
      const records: SourceRecord[] = [];
      let doing = 'connecting';
      try {
        if (settings.bindDn) {
          doing = `binding as ${settings.bindDn}`;
          await client.bind(settings.bindDn, settings.bindPassword ?? '');
        }
        doing = `searching ${settings.baseDn}`;
        const pages = client.searchPaginated(settings.baseDn, {
          scope: settings.scope,
          filter: settings.filter,
          attributes: wanted,
          paged: { pageSize: PAGE_SIZE },
          timeLimit: settings.timeoutSeconds,
        });
        for await (const page of pages) {
          for (const entry of page.searchEntries) records.push(recordOf(entry, map));
          // One over the bound is enough to refuse the sync; the rest is not read.
          if (records.length > settings.maxEntries) break;
        }
        return records;
      } catch (err) {
        throw new ProtoflyError(
          'PF_ERR_DIRECTORY',
          `${settings.url}: ${doing} failed: ${(err as Error).message || (err as Error).name}`,
          { url: settings.url },
          { cause: err },
        );
      } finally {
        await client.unbind().catch(() => undefined);
      }
    },
  };
}

/** A directory entry as a record: the first value of each single field, every value of groups. */
function recordOf(entry: Entry, map: LdapSettings['attributes']): SourceRecord {
  const first = (attribute: string | undefined) => {
    const v = attribute === undefined ? undefined : entry[attribute];
    const s = Array.isArray(v) ? v[0] : v;
    return typeof s === 'string' ? s : undefined;
  };
  const groups = map.groups === undefined ? [] : entry[map.groups];
  return {
    name: first(map.name) ?? '',
    displayName: first(map.displayName),
    email: first(map.email),
    phone: first(map.phone),
    groups: (Array.isArray(groups) ? groups : [groups])
      .filter((g): g is string => typeof g === 'string' && g !== '')
      .map(groupName),
  };
}

/** A group's name: a DN's first RDN value (memberOf: `cn=sales,ou=groups,dc=…` is `sales`), else the value. */
export function groupName(value: string): string {
  const rdn = /^\s*[A-Za-z][A-Za-z0-9-]*\s*=\s*((?:\\.|[^,+\\])*)\s*[,+]/.exec(value);
  // Spaces around the value are not part of it (RFC 4514 §2.4 escapes those that are).
  return rdn ? rdn[1]!.replace(/(?<!\\)\s+$/, '').replace(/\\(.)/g, '$1') : value;
}
