import WebSocket from 'ws';
import type { JsonWsFrame, Message } from '../../core/generated/types.js';
import { PROTOCOL } from '../../server/messaging-node/frames.js';

/**
 * A bare json-ws client for node tests: sends frames as given and keeps every frame it
 * receives, so a test can wait for the one it expects.
 */
export class JsonWsClient {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly frames: JsonWsFrame[] = [];
  /** How the connection ended. */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #taken = new Set<number>();
  readonly #waiters = new Set<() => void>();

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, [PROTOCOL], options);
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.#wake();
    });
    this.ws.on('error', () => {}); // the close event says what happened
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.#wake();
      }),
    );
  }

  /** Connects and authenticates (asking for receipts when told to); resolves with the `ready` frame's client. */
  static async ready(
    url: string,
    token: string,
    hyperties?: string[],
    receipts?: boolean,
  ): Promise<JsonWsClient> {
    const client = new JsonWsClient(url);
    await client.opened();
    client.send({ t: 'auth', token, hyperties, receipts });
    await client.take((f) => f.t === 'ready');
    return client;
  }

  opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', (code) => reject(new Error(`closed with ${code} before opening`)));
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Sends a frame: an object as JSON, a string or Buffer as is. */
  send(frame: object | string | Buffer): void {
    this.ws.send(typeof frame === 'object' && !Buffer.isBuffer(frame) ? JSON.stringify(frame) : frame);
  }

  /** Sends a message in a `msg` frame. */
  msg(m: Message): void {
    this.send({ t: 'msg', m });
  }

  /** The first frame not yet taken that matches; waits for it up to `timeoutMs`. */
  async take<F extends JsonWsFrame>(match: (f: JsonWsFrame) => f is F, timeoutMs?: number): Promise<F>;
  async take(match: (f: JsonWsFrame) => boolean, timeoutMs?: number): Promise<JsonWsFrame>;
  async take(match: (f: JsonWsFrame) => boolean, timeoutMs = 5000): Promise<JsonWsFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f, n) => !this.#taken.has(n) && match(f));
      if (i >= 0) {
        this.#taken.add(i);
        return this.frames[i]!;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.#waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** The ids the node answered so far, acknowledged or refused, in order. */
  answers(): { id: string; ok: boolean }[] {
    return this.frames.flatMap<{ id: string; ok: boolean }>((f) =>
      f.t === 'ack'
        ? f.ids.map((id) => ({ id, ok: true }))
        : f.t === 'err' && f.id
          ? [{ id: f.id, ok: false }]
          : [],
    );
  }

  /** The messages received so far. */
  messages(): Message[] {
    return this.frames.flatMap((f) => (f.t === 'msg' ? [f.m] : []));
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
