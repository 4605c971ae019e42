import { asProtoflyError, isProtoflyError, type ProtoflyError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { type CatalogueClient, type PluginKind, UPDATE_EVENTS } from './catalogue.js';

/**
 * Learns when domains publish new versions, for a runtime that runs their stubs: it listens to
 * each subscribed domain's update stream (Server-Sent Events at `/.well-known/protofly/events`)
 * and, where a catalogue has none, polls its default stub's version list with `If-None-Match`.
 * It says "check this domain", never "this is the new version": what counts is what the
 * verifying loader then accepts.
 */

/** What a catalogue said was published. */
export interface PublishNotice {
  readonly kind: PluginKind;
  readonly name: string;
  readonly version: string;
}

export interface UpdateEvents {
  /**
   * `domain` may have a new version: on each published version (`notice`), and each time the
   * watcher (re)connects or a poll sees a change (no notice), since something may have been
   * published meanwhile.
   */
  update(domain: string, notice?: PublishNotice): void;
  /** A domain's catalogue cannot be reached or watched: once per outage, with the first error. */
  error(err: ProtoflyError): void;
}

export interface UpdateWatcherOptions {
  readonly catalogue: CatalogueClient;
  /** Between polls, where a catalogue has no update stream, in ms. Default 1000. */
  readonly pollMs?: number;
  /** First delay before reconnecting a stream that ended or failed, doubled (while it fails) up to `maxRetryMs`. Default 1000. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** A stream silent for this long (its heartbeats stopped) is reconnected, in ms. Default 45000. */
  readonly idleMs?: number;
}

const MAX_VERSIONS_BYTES = 64 * 1024;

interface Subscription {
  readonly domain: string;
  refs: number;
  readonly controller: AbortController;
}

export class UpdateWatcher extends Emitter<UpdateEvents> {
  readonly #catalogue: CatalogueClient;
  readonly #pollMs: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #idleMs: number;
  readonly #subscriptions = new Map<string, Subscription>();

  constructor(options: UpdateWatcherOptions, onListenerError?: (err: unknown) => void) {
    super(onListenerError);
    this.#catalogue = options.catalogue;
    this.#pollMs = options.pollMs ?? 1000;
    this.#retryMs = options.retryMs ?? 1000;
    this.#maxRetryMs = options.maxRetryMs ?? 30_000;
    this.#idleMs = options.idleMs ?? 45_000;
  }

  /** The domains watched now. */
  get domains(): string[] {
    return [...this.#subscriptions.keys()];
  }

  /** Watches `domain` (once however many subscribe); returns the function that ends this subscription. */
  subscribe(domain: string): () => void {
    let sub = this.#subscriptions.get(domain);
    if (!sub) {
      sub = { domain, refs: 0, controller: new AbortController() };
      this.#subscriptions.set(domain, sub);
      void this.#watch(sub);
    }
    sub.refs++;
    let ended = false;
    const s = sub;
    return () => {
      if (ended) return;
      ended = true;
      if (--s.refs > 0) return;
      this.#subscriptions.delete(domain);
      s.controller.abort();
    };
  }

  /** Ends every subscription. */
  close(): void {
    for (const sub of this.#subscriptions.values()) sub.controller.abort();
    this.#subscriptions.clear();
  }

  /** Streams while the catalogue has a stream, polls when it has none; retries with back-off when it is unreachable. */
  async #watch(sub: Subscription): Promise<void> {
    const { domain, controller } = sub;
    const signal = controller.signal;
    let retry = this.#retryMs;
    let failing = false;
    let etag: string | undefined;
    let streams = true;
    while (!signal.aborted) {
      try {
        if (streams) {
          const events = await this.#catalogue.events(domain, signal, this.#idleMs);
          failing = false;
          retry = this.#retryMs;
          // Whatever was published while not connected is news too.
          this.emit('update', domain);
          for await (const event of events) {
            const notice = event.event === UPDATE_EVENTS.publish ? noticeOf(event.data) : undefined;
            if (notice) this.emit('update', domain, notice);
          }
        } else {
          const now = await this.#catalogue.etag(
            this.#catalogue.versionsUrl(domain, 'stub', 'default'),
            etag,
            MAX_VERSIONS_BYTES,
            `versions of ${domain}'s default stub`,
          );
          failing = false;
          retry = this.#pollMs;
          if (now !== etag) this.emit('update', domain);
          etag = now;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (
          streams &&
          (isProtoflyError(err, 'PF_ERR_NOT_FOUND') || (isProtoflyError(err) && err.detail.status === 503))
        ) {
          // A catalogue without an update stream, or with no room on it: poll it, at once.
          streams = false;
          continue;
        }
        if (!failing) this.emit('error', asProtoflyError(err, 'PF_ERR_FETCH', `watching ${domain}`));
        failing = true;
        retry = Math.min(retry * 2, this.#maxRetryMs);
      }
      await sleep(retry, signal);
    }
  }
}

/** A `publish` event's data, or undefined when it is not one. */
function noticeOf(data: string): PublishNotice | undefined {
  try {
    const n = JSON.parse(data) as Partial<PublishNotice>;
    if (
      (n.kind === 'stub' || n.kind === 'backend') &&
      typeof n.name === 'string' &&
      typeof n.version === 'string'
    ) {
      return { kind: n.kind, name: n.name, version: n.version };
    }
  } catch {
    // Not JSON: not an event of ours.
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
