// The script each sandbox isolate runs first (built to dist/sandbox-isolate.js, an IIFE: an
// isolate has no module loader). An isolate is a bare V8 heap: no timers, no clock but Date,
// no randomness source but Math.random. The host hands in, as synchronous callbacks, what the
// worker side needs (see isolate-host.ts): `post` (frames out), `timer`/`clear` (its timers are
// the host's, so an isolate never runs unless the host calls it), `now`, `random`, `uuid` and
// `url` (WHATWG parsing, which V8 lacks and the endpoint check needs), `subtle` (WebCrypto, run
// by the host off its thread as the worker's is, its answer handed back through `settle`);
// TextEncoder and TextDecoder are the isolate's own (isolate-encoding.ts). They are captured here
// and deleted from the global before SES locks it down, and compartments get none of them, so
// a stub never reaches them. What the host calls in, it finds on `globalThis.__protoflyIsolate`:
// `receive`, `fire` and `settle`.
import './isolate-encoding.js';
import './isolate-meter.js';
import 'ses';
import { ProtoflyError } from '../../core/errors.js';
import type { HostFrame, WorkerFrame } from '../channel.js';
import { evaluateInCompartment } from '../worker/compartment.js';
import { Supervisor } from '../worker/supervisor.js';

declare const lockdown: (options: Record<string, string>) => void;
declare const harden: <T>(value: T) => T;

/** The host's callbacks, as the isolate finds them before lockdown. */
interface HostCallbacks {
  /** A batch of frames, as a JSON array. */
  post(json: string): void;
  timer(id: number, ms: number, repeat: boolean): void;
  clear(id: number): void;
  now(): number;
  /** `n` random bytes, as a latin-1 string (one char per byte: cheap to copy across). */
  random(n: number): string;
  uuid(): string;
  /** The WHATWG parse of `input`, as JSON of its parts; '' when it does not parse. */
  url(input: string): string;
  /**
   * Starts WebCrypto operation `op` (`digest`, `sign`, `deriveBits`) as call `id`, its
   * arguments as JSON and its data as latin-1 strings; the host answers with `settle`.
   */
  subtle(id: number, op: string, args: string, data: string, key: string): void;
}

const scope = globalThis as unknown as Record<string, unknown>;
/** Answers call `id` of `crypto.subtle`: `error`, or the bytes (latin-1) when `error` is ''. */
let settle: (id: number, error: string, bytes: string) => void = () => {};
const host = scope.__protoflyHost as HostCallbacks;
delete scope.__protoflyHost;

// Timers: the callbacks stay here, the clock is the host's. One id space for both kinds (HTML).
type Callback = () => void;
const timers = new Map<number, { fn: Callback; repeat: boolean }>();
let timerIds = 0;
const schedule = (repeat: boolean) => (fn: Callback, ms?: number) => {
  timerIds += 1;
  timers.set(timerIds, { fn, repeat });
  host.timer(timerIds, Math.max(0, Number(ms) || 0), repeat);
  return timerIds;
};
const cancel = (id: unknown) => {
  if (typeof id === 'number' && timers.delete(id)) host.clear(id);
};
scope.setTimeout = schedule(false);
scope.setInterval = schedule(true);
scope.clearTimeout = cancel;
scope.clearInterval = cancel;
scope.performance = { now: () => host.now() };
/** The parts of a parsed URL that the supervisor reads (endpoint.ts), from the host's parser. */
const URL_PARTS = [
  'href',
  'protocol',
  'username',
  'password',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
];
scope.URL = class URL {
  constructor(input: unknown) {
    const json = host.url(String(input));
    if (json === '') throw new TypeError(`Invalid URL: ${String(input)}`);
    const parts = JSON.parse(json) as Record<string, string>;
    for (const key of URL_PARTS) Object.defineProperty(this, key, { value: parts[key], enumerable: true });
  }
  toString(): string {
    return (this as unknown as { href: string }).href;
  }
};
scope.crypto = {
  getRandomValues<T extends ArrayBufferView>(array: T): T {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    // Web Crypto's bound, which the host's source keeps too.
    if (bytes.length > 65_536) throw new RangeError('getRandomValues: more than 65536 bytes asked');
    const random = host.random(bytes.length);
    for (let i = 0; i < bytes.length; i++) bytes[i] = random.charCodeAt(i);
    return array;
  },
  randomUUID: () => host.uuid(),
  subtle: subtle(),
};

/**
 * WebCrypto as the worker's `crypto.subtle`, for compartment.ts to wrap as it wraps the
 * worker's (the same bounds, the same key handles): the host runs each operation. A key is
 * its raw bytes and algorithm, kept here, and imported again by the host for each use: the
 * host then holds nothing of a stub's between calls.
 */
function subtle(): object {
  const calls = new Map<number, { resolve(value: unknown): void; reject(reason: unknown): void }>();
  let ids = 0;
  const keys = new WeakMap<object, { raw: string; algorithm: unknown; usages: string[] }>();
  const latin1 = (data: unknown) => {
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data as ArrayBuffer);
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return text;
  };
  const run = (op: string, args: unknown, data: unknown, key?: object) =>
    new Promise<ArrayBuffer>((resolve, reject) => {
      const k = key === undefined ? undefined : keys.get(key);
      if (key !== undefined && !k) throw new TypeError(`crypto.subtle.${op}: not a key`);
      ids += 1;
      calls.set(ids, { resolve: resolve as (value: unknown) => void, reject });
      host.subtle(ids, op, JSON.stringify(args), latin1(data), k ? JSON.stringify(k) : '');
    });
  settle = (id, error, bytes) => {
    const call = calls.get(id);
    if (!call) return;
    calls.delete(id);
    if (error !== '') return call.reject(new Error(error));
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
    call.resolve(out.buffer);
  };
  return {
    digest: (alg: unknown, data: unknown) => run('digest', alg, data),
    importKey: async (
      format: string,
      data: unknown,
      algorithm: unknown,
      _extractable: boolean,
      usages: string[],
    ) => {
      if (format !== 'raw') throw new TypeError("crypto.subtle.importKey: only 'raw' keys");
      const key = {};
      keys.set(key, { raw: latin1(data), algorithm, usages: [...usages] });
      return key;
    },
    sign: (alg: unknown, key: object, data: unknown) => run('sign', alg, data, key),
    deriveBits: (alg: { salt: unknown }, key: object, length: number) =>
      run('deriveBits', { ...alg, salt: latin1(alg.salt), length }, '', key),
  };
}

lockdown({
  // The supervisor catches every stub exception itself and counts stray rejections for the host.
  errorTrapping: 'none',
  unhandledRejectionTrapping: 'none',
  // A bare isolate has no console of its own for SES to wrap.
  consoleTaming: 'unsafe',
});
harden(ProtoflyError);

// Frames out are batched per turn: the first of a turn schedules the flush as a microtask,
// which the isolate runs before the host's call returns.
let outbox: WorkerFrame[] = [];
const flush = () => {
  const batch = outbox;
  outbox = [];
  host.post(JSON.stringify(batch));
};
const supervisor = new Supervisor({
  post: (frame) => {
    if (outbox.push(frame) === 1) void Promise.resolve().then(flush);
  },
  evaluate: evaluateInCompartment,
  harden,
  // The host reads the isolate's heap itself (isolated-vm's heap statistics).
  memory: () => ({ heap: 0, external: 0 }),
});

scope.__protoflyIsolate = harden({
  /** The frames the host posted in one turn, as a JSON array. */
  receive: (json: string) => {
    for (const frame of JSON.parse(json) as HostFrame[]) supervisor.receive(frame);
  },
  /** The host's timer `id` is due: runs it (and forgets a timeout). */
  fire: (id: number) => {
    const timer = timers.get(id);
    if (!timer) return;
    if (!timer.repeat) timers.delete(id);
    timer.fn();
  },
  /** The host's answer to a `crypto.subtle` call. */
  settle: (id: number, error: string, bytes: string) => settle(id, error, bytes),
});
