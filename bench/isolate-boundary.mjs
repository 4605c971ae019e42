// How a frame should cross into an isolate and back (issue 20, item 4): as a JSON string
// (stringified on one side, parsed on the other) or as a structured copy made by isolated-vm.
// Run: node --no-node-snapshot bench/isolate-boundary.mjs (Node ≥ 24, isolated-vm installed).
import { createRequire } from 'node:module';

const ivm = createRequire(import.meta.url)('isolated-vm');
const isolate = new ivm.Isolate({ memoryLimit: 128 });
const context = isolate.createContextSync();
let received;
context.evalClosureSync(
  `globalThis.back = $0; globalThis.fromString = (s) => { const f = JSON.parse(s); back(JSON.stringify([f])); };
   globalThis.fromCopy = (f) => { back([f]); };
   globalThis.fromStrings = (s) => { for (const f of JSON.parse(s)) back(JSON.stringify([f])); };`,
  [
    new ivm.Callback((frames) => {
      received = frames;
    }),
  ],
);
const fromString = context.evalSync('fromString', { reference: true });
const fromCopy = context.evalSync('fromCopy', { reference: true });
// A message frame as the host sends one (sandbox/channel.ts): a json-ws chat message.
const frame = {
  t: 'message',
  cid: 'conv1',
  msg: {
    id: 'm42',
    type: 'create',
    from: 'user://a.example/alice',
    to: 'user://b.example/bob',
    body: { value: { text: 'hello, this is a chat message of ordinary length', seq: 42 } },
  },
};

function measure(name, once, n = 50_000) {
  for (let i = 0; i < 5_000; i++) once();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once();
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`${name}: ${us.toFixed(2)} µs per round trip`);
}

measure('JSON string in, JSON string out', () => {
  fromString.applySync(undefined, [JSON.stringify(frame)]);
  JSON.parse(received);
});
measure('structured copy in, copy out', () => {
  fromCopy.applySync(undefined, [frame], { arguments: { copy: true } });
});
for (const k of [1, 4, 16]) {
  const frames = Array.from({ length: k }, () => frame);
  measure(
    `${k} frame(s): one call each (JSON)`,
    () => {
      for (const f of frames) fromString.applySync(undefined, [JSON.stringify(f)]);
    },
    20_000,
  );
  measure(
    `${k} frame(s): one call for all (JSON array)`,
    () => {
      fromString.applySync(undefined, [JSON.stringify(frames)]);
    },
    20_000,
  );
}
