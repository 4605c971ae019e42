import type { IncomingMessage, ServerResponse } from 'node:http';
import { UPDATE_EVENTS } from '../../runtime/catalogue.js';
import type { PublishNotice } from '../../runtime/updates.js';

export interface EventStreamOptions {
  /** A comment line this often keeps proxies and idle time-outs from closing a quiet stream, in ms. */
  readonly heartbeatMs: number;
  /** Subscribers at most; beyond, a subscription is refused with 503. */
  readonly maxSubscribers: number;
}

/** How long a client waits before reconnecting after the stream ends (the SSE `retry` field), in ms. */
const RETRY_MS = 1000;
/** Bytes a subscriber may leave unread before it is dropped (it reconnects, and checks then). */
const MAX_UNREAD = 64 * 1024;
/** The heartbeat: an event with empty data (a comment would not reach a page's EventSource). */
const HEARTBEAT = `event: ${UPDATE_EVENTS.heartbeat}\ndata:\n\n`;

/**
 * The catalogue's update notice: Server-Sent Events at `/.well-known/protofly/events`. Each
 * new version is one `publish` event whose data is `{"kind","name","version"}`; a quiet stream
 * gets a `ping` event every heartbeatMs (see UPDATE_EVENTS). There are no
 * event ids to resume from: a runtime checks the catalogue whenever it (re)connects, which
 * covers whatever it missed meanwhile.
 */
export class EventStream {
  readonly #subscribers = new Set<ServerResponse>();
  readonly #options: EventStreamOptions;
  readonly #heartbeat: ReturnType<typeof setInterval>;

  constructor(options: EventStreamOptions) {
    this.#options = options;
    this.#heartbeat = setInterval(() => this.#write(HEARTBEAT), options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Makes `res` a subscriber; false (and nothing written) when the stream has `maxSubscribers` already. */
  subscribe(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#subscribers.size >= this.#options.maxSubscribers) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      // Browser runtimes subscribe to other domains' catalogues.
      'access-control-allow-origin': '*',
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.#subscribers.add(res);
    res.on('close', () => this.#subscribers.delete(res));
    return true;
  }

  /** Tells every subscriber about a new version. */
  publish(notice: PublishNotice): void {
    const { kind, name, version } = notice;
    this.#write(`event: ${UPDATE_EVENTS.publish}\ndata: ${JSON.stringify({ kind, name, version })}\n\n`);
  }

  /** Ends every subscription. */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const res of this.#subscribers) res.end();
    this.#subscribers.clear();
  }

  #write(text: string): void {
    for (const res of this.#subscribers) {
      if (res.writableLength > MAX_UNREAD) res.destroy();
      else res.write(text);
    }
  }
}
