import { Counter, Gauge, Registry } from 'prom-client';
import type { Policy } from '../policy/policy.js';
import type { AddressBook } from '../services/service.js';

/** What the node reads at scrape time rather than counting as it goes. */
export interface NodeGauges {
  connections: number;
  pendingAuth: number;
  storedNow: number;
}

/**
 * The node's counters, exposed through prom-client in the Prometheus text format (version 0.0.4).
 *
 * The message path bumps plain numbers: prom-client's `inc()` allocates per call (a result object,
 * a labels object, a label hash string), which the hot path must not. Each metric hands its number
 * to prom-client in `collect()`, run only when scraped. One registry per node, never prom-client's
 * global one: several nodes share a process in tests and in a local cluster.
 */
export class NodeMetrics {
  /** `msg` frames received from clients, accepted or not. */
  messagesIn = 0;
  /** `msg` frames sent to sessions (a forked message counts once per session). */
  messagesOut = 0;
  acks = 0;
  /** Messages put in the offline store. */
  stored = 0;
  /** Sessions closed because handling one of their frames failed (PF_ERR_INTERNAL). */
  contained = 0;
  /** Times a connection's socket stopped being read until it was within its bytes a second. */
  readPauses = 0;
  /** Attempts to bring the address book's copy up to date that failed (the copy stayed). */
  addressBookSyncFailures = 0;
  /** Refusals by error code. */
  readonly refused = new Map<string, number>();

  readonly #registry = new Registry();
  /** Set by `render` for the gauges' `collect()`; the scrape is the only reader. */
  #gauges: NodeGauges = { connections: 0, pendingAuth: 0, storedNow: 0 };

  /** @param policy - whose decisions are exposed, by rule. */
  constructor(policy?: Pick<Policy, 'counts'>) {
    const gauge = (name: string, help: string, read: (g: NodeGauges) => number) => {
      const gauges = () => this.#gauges;
      new Gauge({
        name: `protofly_node_${name}`,
        help,
        registers: [this.#registry],
        collect() {
          this.set(read(gauges()));
        },
      });
    };
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name: `protofly_node_${name}`,
        help,
        registers: [this.#registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const refused = this.refused;
    // Registration order is exposition order, kept as it was when the text was written by hand.
    gauge('connections', 'Open WebSocket connections.', (g) => g.connections);
    gauge('pending_auth', 'Open connections not yet authenticated.', (g) => g.pendingAuth);
    counter('messages_in_total', 'Messages received from clients.', () => this.messagesIn);
    counter('messages_out_total', 'Messages sent to sessions.', () => this.messagesOut);
    counter('acks_total', 'Messages acknowledged.', () => this.acks);
    counter('stored_total', 'Messages stored for an offline recipient.', () => this.stored);
    gauge(
      'stored_messages',
      'Messages in the offline store, counted at most every 15 s.',
      (g) => g.storedNow,
    );
    counter(
      'sessions_failed_total',
      'Sessions closed because handling one of their frames failed; the node served on.',
      () => this.contained,
    );
    counter(
      'read_pauses_total',
      'Times a connection sent faster than its bytes a second and was not read until within it.',
      () => this.readPauses,
    );
    new Counter({
      name: 'protofly_node_refused_total',
      help: 'Frames and connections refused, by error code.',
      labelNames: ['code'],
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const [code, n] of refused) this.inc({ code }, n);
      },
    });
    new Counter({
      name: 'protofly_node_policy_decisions_total',
      help: "Messages the domain's policy decided, by rule (`default`: no rule matched) and decision (allowed, refused by a deny, flood: over the rule's rate).",
      labelNames: ['rule', 'decision'],
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const [rule, n] of policy?.counts() ?? []) {
          this.inc({ rule, decision: 'allowed' }, n.allowed);
          this.inc({ rule, decision: 'refused' }, n.refused);
          this.inc({ rule, decision: 'flood' }, n.flood);
        }
      },
    });
  }

  /** Counts a refusal. */
  refuse(code: string): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  /** The exposition text, with the gauges read now. */
  /** Exposes how the node's copy of the address book stands, read from `book` at scrape time. */
  watchAddressBook(book: AddressBook): void {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: `protofly_node_addressbook_${name}`,
        help,
        registers: [this.#registry],
        collect() {
          this.set(read());
        },
      });
    gauge('entries', "Entries in the node's copy of the address book.", () => book.status().entries);
    gauge(
      'synced',
      '1 when the last attempt to bring the address book up to date succeeded, 0 when it failed (the copy is the last good one).',
      () => (book.status().ok ? 1 : 0),
    );
    gauge(
      'synced_timestamp_seconds',
      'When the address book was last brought up to date (Unix time; 0 before the first success).',
      () => (book.status().syncedAt ?? 0) / 1000,
    );
    const failures = () => this.addressBookSyncFailures;
    new Counter({
      name: 'protofly_node_addressbook_sync_failures_total',
      help: 'Attempts to bring the address book up to date that failed; the copy stayed.',
      registers: [this.#registry],
      collect() {
        this.reset();
        this.inc(failures());
      },
    });
  }

  render(gauges: NodeGauges): Promise<string> {
    this.#gauges = gauges;
    return this.#registry.metrics();
  }
}
