import type { Logger } from 'pino';
import { ProtoflyError } from '../../core/errors.js';
import type { DirectoryResult, Message, ResponseMessage } from '../../core/generated/types.js';
import { validateDirectoryLookup, validateDirectorySearch } from '../../core/generated/validators.js';
import { Code, response } from '../../core/response.js';
import { assertValid } from '../../core/validate.js';
import {
  directoryAddress,
  DIRECTORY_LOOKUP as LOOKUP,
  DIRECTORY_SEARCH as SEARCH,
} from '../../runtime/directory.js';
import type { AddressBook } from '../services/service.js';
import type { NodeMetrics } from './metrics.js';

/** Entries a search answers when it names no limit. */
export const DEFAULT_LIMIT = 20;

/**
 * The node's directory: users ask `domain://msg-node.<domain>/directory` for the domain's
 * address book with an `execute` (search or lookup), answered from the address book's copy in a
 * `response` of the same id; bad input is a coded error (PF_ERR_SCHEMA) for the sender's `err`.
 * It also watches the address book's syncs: a failure is logged and counted (the copy stays), a
 * recovery logged.
 */
export class Directory {
  /** The address users send their requests to. */
  readonly address: string;
  readonly #domain: string;
  readonly #book: AddressBook;
  readonly #unwatch: () => void;

  constructor(domain: string, book: AddressBook, metrics: NodeMetrics, log: Logger) {
    this.address = directoryAddress(domain);
    this.#domain = domain;
    this.#book = book;
    let failing = false;
    this.#unwatch = book.onSync((status) => {
      if (!status.ok) {
        metrics.addressBookSyncFailures++;
        log.warn(
          { code: status.error?.code, reason: status.error?.message, entries: status.entries },
          'address book not synchronised: answering from the last good copy',
        );
      } else if (failing) {
        log.info({ entries: status.entries, skipped: status.skipped }, 'address book synchronised again');
      }
      failing = !status.ok;
    });
    metrics.watchAddressBook(book);
  }

  /**
   * The response to a request `m` to the directory from the session of `user`.
   *
   * @throws ProtoflyError `PF_ERR_FORBIDDEN` for a user of another domain (a foreign domain's
   *   users the node admits may reach this domain's users, not list them); `PF_ERR_SCHEMA` for
   *   a message that is no `execute` of a known method with its params.
   */
  answer(m: Message, user: string): ResponseMessage {
    if (!user.startsWith(`user://${this.#domain}/`)) {
      throw new ProtoflyError('PF_ERR_FORBIDDEN', `${user} may not search ${this.#domain}'s address book`, {
        from: user,
      });
    }
    if (m.type !== 'execute') {
      throw new ProtoflyError(
        'PF_ERR_SCHEMA',
        `${this.address} takes execute messages (${SEARCH}, ${LOOKUP}), not ${m.type}`,
        { pointer: '/type' },
      );
    }
    const { method, params } = m.body;
    let result: DirectoryResult;
    if (method === SEARCH) {
      assertValid(validateDirectorySearch, params, `${SEARCH} params`);
      result = this.#book.search(params.query, params.limit ?? DEFAULT_LIMIT);
    } else if (method === LOOKUP) {
      assertValid(validateDirectoryLookup, params, `${LOOKUP} params`);
      const entry = this.#book.lookup(params.address);
      result = { entries: entry ? [entry] : [], more: false };
    } else {
      throw new ProtoflyError(
        'PF_ERR_SCHEMA',
        `${this.address} has no method '${method}'; it has ${SEARCH} and ${LOOKUP}`,
        { pointer: '/body/method' },
      );
    }
    return response(m, Code.OK, undefined, result);
  }

  /** Stops watching the address book. */
  close(): void {
    this.#unwatch();
  }
}
