import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type ErrorCode, ProtoflyError } from '../../core/errors.js';
import { validateDirectorySearch } from '../../core/generated/validators.js';
import { assertValid } from '../../core/validate.js';
import type { AddressBook } from '../services/service.js';
import { type AdminGate, adminEndpoint, notAllowed, reply } from './admin-api.js';
import { DEFAULT_LIMIT } from './directory.js';

/** Where the API lives on the admin port. */
export const ADDRESSBOOK_PATH = '/addressbook/v1';

/**
 * The address book's REST API, on a node's admin port, for the domain's administrators:
 *
 * - `GET /addressbook/v1/entries?q=<query>&limit=<n>` → 200 `DirectoryResult` (the search users
 *   make, from the node's copy; `q` absent: every entry, up to the limit)
 * - `GET /addressbook/v1/status` → 200 `AddressBookStatus`
 * - `POST /addressbook/v1/sync` → 200 `AddressBookStatus` once the copy is up to date; when
 *   the source could not be read, its `ApiError` (`PF_ERR_DIRECTORY`, 502): the copy stayed.
 *
 * Bodies are schemas/address-book.schema.json's; every request passes the admin port's gate
 * (admin-api.ts), as the provisioning API's do, and refusals are its `ApiError`s.
 */
export function addressBookApi(
  book: AddressBook,
  gate: AdminGate,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return adminEndpoint(gate, log, 'address book', async (req, res, by, url) => {
    const path = url.pathname.slice(ADDRESSBOOK_PATH.length);
    if (path === '/entries') {
      if (req.method !== 'GET') throw notAllowed(res, req, 'GET');
      const limit = url.searchParams.get('limit');
      const search = {
        query: url.searchParams.get('q') ?? '',
        // A limit that is no integer is left as text, for the schema to name.
        ...(limit === null ? {} : { limit: /^\d{1,9}$/.test(limit) ? Number(limit) : limit }),
      };
      assertValid(validateDirectorySearch, search, 'address book search (query parameters q, limit)');
      return reply(res, 200, book.search(search.query, search.limit ?? DEFAULT_LIMIT));
    }
    if (path === '/status') {
      if (req.method !== 'GET') throw notAllowed(res, req, 'GET');
      return reply(res, 200, book.status());
    }
    if (path === '/sync') {
      if (req.method !== 'POST') throw notAllowed(res, req, 'POST');
      const status = await book.sync();
      log.info({ by, ok: status.ok, entries: status.entries }, 'address book synchronised on demand');
      if (!status.ok) {
        const { code, message } = status.error!;
        throw new ProtoflyError(code as ErrorCode, message);
      }
      return reply(res, 200, status);
    }
    throw new ProtoflyError('PF_ERR_NOT_FOUND', `nothing at ${url.pathname}`);
  });
}
