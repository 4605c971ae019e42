import { ProtoflyError } from '../core/errors.js';
import { eventSourceStream } from './event-source.js';
import { type SseEvent, SseParser } from './sse.js';

/**
 * Talks HTTP to domains' catalogues: where a domain's catalogue is, and bounded, timed
 * fetches of descriptors, keys and packages. Web `fetch` only, so it runs in browsers too.
 */

export type PluginKind = 'stub' | 'backend';

/** Where a domain publishes its public keys (JWKS), relative to its catalogue's base. */
export const KEYS_PATH = '/.well-known/protofly/keys';
/** Where a catalogue announces new versions (Server-Sent Events), relative to its base. */
export const EVENTS_PATH = '/.well-known/protofly/events';
/**
 * The update stream's events: `publish`, a new version (data `{"kind","name","version"}`), and
 * `ping`, the heartbeat of a quiet stream (empty data). The heartbeat is an event rather than an
 * SSE comment so that a page's EventSource, which hides comments, sees the stream is alive.
 */
export const UPDATE_EVENTS = { publish: 'publish', heartbeat: 'ping' } as const;
/** A domain's OAuth authorization server metadata (RFC 8414): where its token endpoint is. */
export const AUTHORIZATION_SERVER_PATH = '/.well-known/oauth-authorization-server';

export interface CatalogueOptions {
  /** Catalogue base URL per domain, for tests and local setups; others are `https://<domain>`. */
  catalogues?: Readonly<Record<string, string>>;
  /** Milliseconds for a whole fetch, body included. Default 5000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /**
   * A page's `EventSource`: update streams are read with it (see event-source.ts) rather than
   * with `fetch`, as a browser runtime does. Default: `fetch` and the SSE parser (Node has no
   * EventSource).
   */
  eventSource?: typeof EventSource;
}

/** A JSON document and what HTTP said about caching it. */
export interface Fetched<T> {
  readonly body: T;
  readonly etag?: string;
  /** Seconds it may be reused without asking again (Cache-Control max-age). */
  readonly maxAge: number;
}

export class CatalogueClient {
  readonly #catalogues: ReadonlyMap<string, string>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #eventSource: typeof EventSource | undefined;

  constructor(options: CatalogueOptions = {}) {
    this.#catalogues = new Map(Object.entries(options.catalogues ?? {}));
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#eventSource = options.eventSource;
  }

  /** The catalogue base URL of a domain. */
  baseOf(domain: string): string {
    return (this.#catalogues.get(domain) ?? `https://${domain}`).replace(/\/+$/, '');
  }

  descriptorUrl(domain: string, kind: PluginKind, name: string, range?: string): string {
    const query = range === undefined ? '' : `?version=${encodeURIComponent(range)}`;
    return `${this.baseOf(domain)}/.well-known/protofly/${kind}/${encodeURIComponent(name)}${query}`;
  }

  keysUrl(domain: string): string {
    return `${this.baseOf(domain)}${KEYS_PATH}`;
  }

  /** Every version of a plugin, newest first: what polling watches for a new one. */
  versionsUrl(domain: string, kind: PluginKind, name: string): string {
    return `${this.baseOf(domain)}/.well-known/protofly/${kind}/${encodeURIComponent(name)}/versions`;
  }

  eventsUrl(domain: string): string {
    return `${this.baseOf(domain)}${EVENTS_PATH}`;
  }

  /**
   * A conditional GET (`If-None-Match: etag`): resolves with the document's ETag now, `etag`
   * itself when it did not change (304). A changed body is read, bounded, and dropped.
   *
   * @throws ProtoflyError as {@link json}, but for JSON.
   */
  async etag(
    url: string,
    etag: string | undefined,
    maxBytes: number,
    what: string,
  ): Promise<string | undefined> {
    const res = await this.#get(url, what, { headers: etag === undefined ? {} : { 'if-none-match': etag } });
    if (res.status === 304) {
      await res.body?.cancel();
      return etag;
    }
    await this.#read(res, url, maxBytes, what);
    return res.headers.get('etag') ?? undefined;
  }

  /**
   * Opens `domain`'s update stream (Server-Sent Events). Resolves once the catalogue answered
   * with one (within the fetch time-out); its events then come until the stream ends, stays
   * silent for `idleMs` (a stream whose heartbeats stopped is as good as gone), or `signal`
   * aborts.
   *
   * @throws ProtoflyError `PF_ERR_NOT_FOUND` when the catalogue has no update stream (404, or
   *   not `text/event-stream`), `PF_ERR_FETCH` (network, HTTP error, time-out), also while
   *   reading.
   */
  async events(domain: string, signal: AbortSignal, idleMs: number): Promise<AsyncIterable<SseEvent>> {
    const url = this.eventsUrl(domain);
    const what = `update stream of ${domain}`;
    if (this.#eventSource) {
      const names = Object.values(UPDATE_EVENTS);
      const timeoutMs = this.#timeoutMs;
      return eventSourceStream(this.#eventSource, { url, what, names, signal, timeoutMs, idleMs });
    }
    const controller = new AbortController();
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // Aborting the fetch alone can leave a pending read, and the socket, open: cancel the read too.
    const abort = () => {
      controller.abort();
      reader?.cancel().catch(() => {});
    };
    signal.addEventListener('abort', abort);
    let timer = setTimeout(abort, this.#timeoutMs);
    let res: Response;
    try {
      res = await this.#get(url, what, {
        signal: controller.signal,
        headers: { accept: 'text/event-stream' },
      });
    } catch (err) {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      throw err;
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream') || !res.body) {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      await res.body?.cancel();
      throw new ProtoflyError(
        'PF_ERR_NOT_FOUND',
        `${what}: ${url} answered ${type || 'no body'}, not an event stream`,
        {
          url,
        },
      );
    }
    const body = res.body.getReader();
    reader = body;
    const fetchError = (err: unknown) => this.#fetchError(err, url, what);
    return (async function* read() {
      const parser = new SseParser();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          clearTimeout(timer);
          timer = setTimeout(abort, idleMs);
          const { done, value } = await body.read();
          if (done) return;
          yield* parser.push(decoder.decode(value, { stream: true }));
        }
      } catch (err) {
        if (signal.aborted) return;
        if (controller.signal.aborted) {
          throw new ProtoflyError('PF_ERR_FETCH', `${what}: ${url} was silent for ${idleMs} ms`, { url });
        }
        throw fetchError(err);
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', abort);
        body.cancel().catch(() => {});
      }
    })();
  }

  /**
   * GETs a JSON document of at most `maxBytes`.
   *
   * @throws ProtoflyError `PF_ERR_FETCH` (network, HTTP error, time-out), `PF_ERR_NOT_FOUND`,
   *   `PF_ERR_TOO_LARGE`, `PF_ERR_SCHEMA` (not JSON).
   */
  async json(url: string, maxBytes: number, what: string): Promise<Fetched<unknown>> {
    const res = await this.#get(url, what);
    const body = parseJson(await this.#read(res, url, maxBytes, what), url, what);
    const maxAge = /max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '');
    const etag = res.headers.get('etag') ?? undefined;
    return { body, maxAge: maxAge ? Number(maxAge[1]) : 0, ...(etag ? { etag } : {}) };
  }

  /**
   * POSTs `form` (application/x-www-form-urlencoded) and reads the JSON answer of at most
   * `maxBytes`, whatever its HTTP status: an OAuth endpoint explains its refusals in the body.
   *
   * @param timeoutMs - default the client's time-out
   * @throws ProtoflyError `PF_ERR_FETCH` (network, time-out), `PF_ERR_TOO_LARGE`, `PF_ERR_SCHEMA` (not JSON).
   */
  async postForm(
    url: string,
    form: Readonly<Record<string, string>>,
    maxBytes: number,
    what: string,
    timeoutMs = this.#timeoutMs,
  ): Promise<{ status: number; retryAfter: string | undefined; body: unknown }> {
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: 'POST',
        body: new URLSearchParams(form),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      throw this.#fetchError(err, url, what);
    }
    const body = parseJson(await this.#read(res, url, maxBytes, what), url, what);
    return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, body };
  }

  /**
   * GETs at most `maxBytes` bytes.
   *
   * @throws ProtoflyError as {@link json}, but for JSON.
   */
  async bytes(url: string, maxBytes: number, what: string): Promise<Uint8Array> {
    return this.#read(await this.#get(url, what), url, maxBytes, what);
  }

  async #get(
    url: string,
    what: string,
    init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const request: RequestInit = {
      signal: init.signal ?? AbortSignal.timeout(this.#timeoutMs),
      redirect: 'error',
      // A browser's HTTP cache would answer a check after an update notice with the descriptor
      // it holds for max-age, and a revalidation adds its disk lookup and write to each GET
      // (0.4-1 ms of a 6-7 ms fetch in Chromium here) to save a body of a few KB: bypassed. The
      // loader keeps what it verified for max-age itself, and packages in its store.
      cache: 'no-store',
      ...(init.headers ? { headers: init.headers } : {}),
    };
    let res: Response;
    try {
      res = await this.#fetch(url, request).catch((err: unknown) => {
        // A kept-alive connection the server closed as this GET went out: a GET is idempotent,
        // so it may go again at once, once (RFC 9110 §9.2.2).
        if (!connectionLost(err) || request.signal?.aborted) throw err;
        return this.#fetch(url, request);
      });
    } catch (err) {
      throw this.#fetchError(err, url, what);
    }
    if (res.ok || res.status === 304) return res;
    const reason = await res.text().then(
      (text) => {
        try {
          return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text.slice(0, 200);
        } catch {
          return text.slice(0, 200);
        }
      },
      () => '',
    );
    const code = res.status === 404 ? 'PF_ERR_NOT_FOUND' : 'PF_ERR_FETCH';
    throw new ProtoflyError(
      code,
      `${what}: ${url} answered HTTP ${res.status}${reason ? `: ${reason}` : ''}`,
      {
        url,
        status: res.status,
      },
    );
  }

  /** Reads a body, refusing it as soon as it passes `maxBytes` (a declared length is checked first). */
  async #read(res: Response, url: string, maxBytes: number, what: string): Promise<Uint8Array> {
    const tooLarge = (size: number | string) =>
      new ProtoflyError(
        'PF_ERR_TOO_LARGE',
        `${what}: ${url} is ${size} bytes, over the limit of ${maxBytes}`,
        {
          url,
          limit: maxBytes,
        },
      );
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw tooLarge(declared);
    }
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel();
          throw tooLarge(`more than ${maxBytes}`);
        }
        chunks.push(value);
      }
    } catch (err) {
      if (err instanceof ProtoflyError) throw err;
      throw this.#fetchError(err, url, what);
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  #fetchError(err: unknown, url: string, what: string): ProtoflyError {
    const name = (err as Error)?.name;
    const why =
      name === 'TimeoutError' || name === 'AbortError'
        ? `timed out after ${this.#timeoutMs} ms`
        : `failed: ${(err as Error)?.message ?? String(err)}${(err as { cause?: Error })?.cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`;
    return new ProtoflyError('PF_ERR_FETCH', `${what}: ${url} ${why}`, { url }, { cause: err });
  }
}

/** Whether a fetch failed because its connection closed under it (not a refusal, not a time-out). */
function connectionLost(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

function parseJson(bytes: Uint8Array, url: string, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ProtoflyError('PF_ERR_SCHEMA', `${what}: ${url} is not JSON`, { url, pointer: '' });
  }
}
