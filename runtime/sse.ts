/**
 * Server-Sent Events, the receiving side (WHATWG HTML, "Parsing an event stream"): text in,
 * events out. Browser-safe and without `EventSource` (Node 20 has none, and a runtime wants
 * its own reconnection policy), so it reads a `fetch` body.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field; `message` when the event named none. */
  readonly event: string;
  /** The `data` lines, joined with `\n`. */
  readonly data: string;
}

/** The longest line kept while waiting for its end; a stream that sends more is not an event stream. */
export const MAX_LINE = 64 * 1024;

export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  /** The reconnection time the stream asked for (`retry`), in ms. */
  retryMs: number | undefined;

  /**
   * Parses the next chunk of the stream; returns the events it completed.
   *
   * @throws RangeError when a line grows past 64 KiB without ending.
   */
  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = [];
    const text = this.#buffer + chunk;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the end of the chunk may be the first half of a CRLF: wait for the next chunk.
      if (c === 13 && i === text.length - 1) break;
      this.#line(text.slice(start, i), events);
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.#buffer = text.slice(start);
    if (this.#buffer.length > MAX_LINE)
      throw new RangeError(`an event stream line is over ${MAX_LINE} characters`);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0)
        events.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}
