import { isErrorCode, isProtoflyError, ProtoflyError } from '../core/errors.js';
import type { DirectoryEntry, DirectoryResult } from '../core/generated/types.js';
import {
  validateDirectoryLookup,
  validateDirectoryResult,
  validateDirectorySearch,
} from '../core/generated/validators.js';
import { assertValid } from '../core/validate.js';
import type { Conversation } from './conversation.js';

/** The methods of a messaging node's directory (schemas/address-book.schema.json). */
export const DIRECTORY_SEARCH = 'protofly.directory.search';
export const DIRECTORY_LOOKUP = 'protofly.directory.lookup';

/** Where a domain's messaging node answers its users' address book requests. */
export function directoryAddress(domain: string): string {
  return `domain://msg-node.${domain}/directory`;
}

/** How to search. */
export interface SearchOptions {
  /** At most this many entries (1 to 100); default the node's, 20. */
  readonly limit?: number;
}

/**
 * A domain's address book as its users see it (`runtime.directory(domain)`): searches and
 * lookups sent to the domain's messaging node (an `execute` to
 * `domain://msg-node.<domain>/directory`, carried by the domain's stub like any conversation),
 * the params checked before they go and the answers checked when they come, against
 * schemas/address-book.schema.json. A node answers its own domain's users only.
 */
export class Directory {
  /** The address the requests go to. */
  readonly address: string;
  readonly #domain: string;
  readonly #open: () => Promise<Conversation>;

  /** @param open - the conversation with {@link address}, opened (or the open one) on each call. */
  constructor(domain: string, open: () => Promise<Conversation>) {
    this.#domain = domain;
    this.address = directoryAddress(domain);
    this.#open = open;
  }

  /**
   * The entries whose name, display name, e-mail or phone contains `query` (case-insensitive,
   * taken literally; those that start with it first; empty: every entry), up to the limit.
   *
   * @throws ProtoflyError `PF_ERR_SCHEMA` for a query or limit out of bounds (nothing is sent)
   *   or an answer that is no DirectoryResult; the node's code for a refusal (`PF_ERR_FORBIDDEN`:
   *   a user of another domain); what opening the conversation throws (Runtime.conversation);
   *   `PF_ERR_DELIVERY` when the request was not delivered.
   */
  async search(query: string, options: SearchOptions = {}): Promise<DirectoryResult> {
    const params = options.limit === undefined ? { query } : { query, limit: options.limit };
    assertValid(validateDirectorySearch, params, `${DIRECTORY_SEARCH} params`);
    return this.#ask(DIRECTORY_SEARCH, params);
  }

  /**
   * The entry of the user `address`, or undefined when the address book has none.
   *
   * @throws ProtoflyError as {@link search}; `PF_ERR_SCHEMA` for an address that is not a user's.
   */
  async lookup(address: string): Promise<DirectoryEntry | undefined> {
    const params = { address };
    assertValid(validateDirectoryLookup, params, `${DIRECTORY_LOOKUP} params`);
    return (await this.#ask(DIRECTORY_LOOKUP, params)).entries[0];
  }

  async #ask(method: string, params: Record<string, unknown>): Promise<DirectoryResult> {
    const conversation = await this.#open();
    let value: unknown;
    try {
      value = (await conversation.execute(method, params)).body.value;
    } catch (err) {
      throw this.#refusal(err);
    }
    assertValid(validateDirectoryResult, value, `the answer of ${this.address} to ${method}`);
    return value;
  }

  /**
   * A refusal with the node's own code, which json-ws puts first in the response's description
   * (`PF_ERR_FORBIDDEN: ...`); anything else as it is.
   */
  #refusal(err: unknown): unknown {
    if (!isProtoflyError(err, 'PF_ERR_DELIVERY')) return err;
    const said = /^(PF_ERR_[A-Z_]+): (.*)$/s.exec(String(err.detail.description ?? ''));
    if (!said || !isErrorCode(said[1])) return err;
    return new ProtoflyError(said[1], `the directory of ${this.#domain}: ${said[2]}`, {
      ...err.detail,
      domain: this.#domain,
    });
  }
}
