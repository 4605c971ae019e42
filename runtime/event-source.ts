import { ProtoflyError } from '../core/errors.js';
import { MAX_LINE, type SseEvent } from './sse.js';

/**
 * A catalogue's update stream read with a page's `EventSource` (CatalogueClient.events in a
 * browser runtime): the same `SseEvent`s the fetch reader parses in Node, for the same
 * UpdateWatcher, which keeps the reconnection policy (back-off, a check on each connect): the
 * EventSource is closed at its first error rather than left to reconnect on its own.
 *
 * What an EventSource lets a page see is less than a fetch: no status and no headers, and
 * named events only to listeners of their name (hence `names`), never comments (hence the
 * heartbeat is an event). An error before the stream opened is told apart by the source's
 * state: closed means the catalogue answered, with something other than an event stream (an
 * HTTP error such as 404 or 503, or another content type: the browser does not retry it);
 * connecting means it was not reached, or, in a page, the answer was not shared with it (CORS).
 */
export interface EventSourceStreamOptions {
  readonly url: string;
  /** What the stream is, for errors (`update stream of b.example`). */
  readonly what: string;
  /** The event names to listen to. */
  readonly names: readonly string[];
  readonly signal: AbortSignal;
  /** Milliseconds to the open, at most. */
  readonly timeoutMs: number;
  /** Milliseconds without an event (heartbeats included) after which the stream is given up. */
  readonly idleMs: number;
}

/** Events received and not yet read, at most; a stream that floods its reader is given up. */
const MAX_QUEUED = 1024;

/**
 * Opens the stream; resolves once it is open, with its events until it ends, errs, stays silent
 * for `idleMs`, or `signal` aborts.
 *
 * @throws ProtoflyError `PF_ERR_NOT_FOUND` when the catalogue answered without an event stream,
 *   `PF_ERR_FETCH` (not reached, time-out, silent, stream given up), also while reading;
 *   `PF_ERR_TOO_LARGE` for an event over 64 KiB.
 */
export function eventSourceStream(
  EventSourceClass: typeof EventSource,
  options: EventSourceStreamOptions,
): Promise<AsyncIterable<SseEvent>> {
  const { url, what, names, signal, timeoutMs, idleMs } = options;
  // No credentials: the catalogue's documents are public (withCredentials false).
  const source = new EventSourceClass(url);
  const queue: SseEvent[] = [];
  let opened = false;
  let ended = false;
  let failure: ProtoflyError | undefined;
  let wake: (() => void) | undefined;
  let settle!: { resolve: (events: AsyncIterable<SseEvent>) => void; reject: (err: unknown) => void };
  const opening = new Promise<AsyncIterable<SseEvent>>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const fail = (code: 'PF_ERR_FETCH' | 'PF_ERR_NOT_FOUND' | 'PF_ERR_TOO_LARGE', why: string) =>
    end(new ProtoflyError(code, `${what}: ${url} ${why}`, { url }));
  let timer = setTimeout(() => fail('PF_ERR_FETCH', `timed out after ${timeoutMs} ms`), timeoutMs);
  const abort = () => end();
  signal.addEventListener('abort', abort);

  function end(err?: ProtoflyError): void {
    if (ended) return;
    ended = true;
    failure = err;
    clearTimeout(timer);
    source.close();
    signal.removeEventListener('abort', abort);
    if (!opened) settle.reject(err ?? new ProtoflyError('PF_ERR_FETCH', `${what}: ${url} aborted`, { url }));
    wake?.();
  }

  function idle(): void {
    clearTimeout(timer);
    timer = setTimeout(() => fail('PF_ERR_FETCH', `was silent for ${idleMs} ms`), idleMs);
  }

  source.onopen = () => {
    if (ended) return;
    opened = true;
    idle();
    settle.resolve(read());
  };
  source.onerror = () => {
    if (opened) return end(); // the stream ended or broke: the watcher reconnects after its delay
    if (source.readyState === EventSourceClass.CLOSED) {
      return fail('PF_ERR_NOT_FOUND', 'answered without an event stream (an HTTP error, or another type)');
    }
    fail('PF_ERR_FETCH', 'could not be reached (or, in a page, its answer was not shared with this origin)');
  };
  for (const name of names) {
    source.addEventListener(name, (event) => {
      if (ended) return;
      idle();
      const data = String((event as MessageEvent).data);
      if (data.length > MAX_LINE)
        return fail('PF_ERR_TOO_LARGE', `sent an event over ${MAX_LINE} characters`);
      if (queue.length >= MAX_QUEUED) return fail('PF_ERR_FETCH', `sent over ${MAX_QUEUED} events unread`);
      queue.push({ event: name, data });
      wake?.();
    });
  }

  async function* read(): AsyncGenerator<SseEvent> {
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (ended) {
          if (failure && !signal.aborted) throw failure;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      end();
    }
  }

  return opening;
}
