import { EventEmitter } from 'node:events';
import { type Message, request, response } from '../core/message.js';
import { Bus } from '../runtime/bus.js';
import { alternate, type BenchOptions, type Result, result } from './harness.js';

/**
 * Messages per second through the core bus, one process, against Node's EventEmitter doing the
 * same delivery (the plain in-process baseline).
 */

const FROM = 'hyperty://a.example/alice';
const TO = 'hyperty://b.example/bob';

function messages(n: number): Message[] {
  return Array.from({ length: n }, (_, i) =>
    request('create', FROM, TO, { value: { kind: 'chat', text: `m${i}` } }),
  );
}

/** Measures messages/s from the first send until `expected` deliveries were counted. */
function counted(
  expected: number,
  subscribe: (count: () => void) => void,
  sendAll: () => void,
): () => Promise<number> {
  let seen = 0;
  let done: () => void = () => {};
  subscribe(() => {
    if (++seen === expected) done();
  });
  return async () => {
    seen = 0;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const t0 = performance.now();
    sendAll();
    await finished;
    return expected / ((performance.now() - t0) / 1000);
  };
}

function oneWay(validate: boolean, batch: Message[]): () => Promise<number> {
  const bus = new Bus({ validate, queueLimit: batch.length });
  return counted(
    batch.length,
    (count) => bus.listen(TO, count),
    () => {
      for (const m of batch) bus.send(m);
    },
  );
}

function emitter(batch: Message[]): () => Promise<number> {
  const ee = new EventEmitter();
  return counted(
    batch.length,
    (count) => ee.on(TO, count),
    // Deliver asynchronously, as the bus does.
    () =>
      queueMicrotask(() => {
        for (const m of batch) ee.emit(m.to, m);
      }),
  );
}

/** Request/response pairs per second, validated, each with its 408 timer armed. */
function roundTrips(n: number): () => Promise<number> {
  const bus = new Bus({ queueLimit: n });
  bus.listen(TO, (m) => bus.send(response(m, 200)));
  let onResponse: () => void = () => {};
  return counted(
    n,
    (count) => {
      onResponse = count;
    },
    () => {
      for (let i = 0; i < n; i++) bus.send(request('read', FROM, TO, {}), onResponse);
    },
  );
}

export default async function busBench({ quick }: BenchOptions): Promise<Result[]> {
  const n = quick ? 50_000 : 200_000;
  const rounds = quick ? 5 : 15;
  const batch = messages(n);
  const base = emitter(batch);
  const [raw, baseRaw] = await alternate(rounds, oneWay(false, batch), base);
  const [validated, baseValidated] = await alternate(rounds, oneWay(true, batch), base);
  const [rt, baseRt] = await alternate(rounds, roundTrips(n / 2), base);
  return [
    result('bus: one-way, no validation', 'msg/s', raw, baseRaw),
    result('bus: one-way, validated', 'msg/s', validated, baseValidated),
    result('bus: request/response, validated', 'round trips/s', rt, baseRt),
  ];
}
