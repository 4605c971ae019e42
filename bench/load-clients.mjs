#!/usr/bin/env node
// A load generator in its own process (forked by bench/connections.bench.ts and
// bench/fanout.bench.ts): holds many WebSocket clients of a messaging server and reports
// delivery latency and loss over IPC. Mode `pairs`: each client sends a chat to a random other
// client every few seconds. Mode `fanout`: every client subscribes to `group`, and the first
// sends `rate` updates a second to it. Senders and receivers share this process's clock, so
// latency is one clock's difference.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { url, protocol, clients, rate, seconds, concurrency, mode = 'pairs', group } = config;
const sockets = new Array(clients.length);
const latencies = [];
let received = 0;

function connect(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], { perMessageDeflate: false });
    ws.on('open', () => ws.send(JSON.stringify(clients[i].hello)));
    ws.on('error', reject);
    // Refused before it was ready (a server's bound): say so, rather than wait for ever.
    ws.on('close', (code, reason) => {
      if (!sockets[i]) reject(new Error(`client ${i} closed before ready: ${code} ${reason}`));
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.t === 'ready') {
        sockets[i] = ws;
        resolve();
      } else if (frame.t === 'msg' && (frame.m.type === 'create' || frame.m.type === 'update')) {
        received++;
        latencies.push(performance.now() - Number(frame.m.body.value.text));
      }
    });
  });
}

const t0 = performance.now();
for (let next = 0; next < clients.length; ) {
  const batch = [];
  for (let k = 0; k < concurrency && next < clients.length; k++) batch.push(connect(next++));
  await Promise.all(batch);
}
if (mode === 'fanout') {
  // Subscribe everyone, then give the server a moment to take the last ones.
  for (const [i, ws] of sockets.entries()) {
    ws.send(
      JSON.stringify({
        t: 'msg',
        m: { id: `s${i}`, type: 'subscribe', from: clients[i].address, to: group, body: {} },
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 500));
}
process.send({ t: 'connected', ms: performance.now() - t0 });
await new Promise((resolve) => process.once('message', resolve));

// Load: `rate` messages a second in all, spread over 10 ms ticks, from random senders.
let sent = 0;
let seq = 0;
const perTick = rate / 100;
let owed = 0;
const timer = setInterval(() => {
  owed += perTick;
  for (; owed >= 1; owed--) {
    const i = mode === 'fanout' ? 0 : Math.floor(Math.random() * clients.length);
    let j = Math.floor(Math.random() * (clients.length - 1));
    if (j >= i) j++;
    const m = {
      id: `l${++seq}`,
      type: mode === 'fanout' ? 'update' : 'create',
      from: clients[i].address,
      to: mode === 'fanout' ? group : clients[j].address,
      body: { value: { kind: 'chat', text: String(performance.now()) } },
    };
    sockets[i].send(JSON.stringify({ t: 'msg', m }));
    // A group message is due at every other member.
    sent += mode === 'fanout' ? clients.length - 1 : 1;
  }
}, 10);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(timer);
// Let the last messages arrive.
for (let waited = 0; received < sent && waited < 5000; waited += 50)
  await new Promise((r) => setTimeout(r, 50));
latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? Number.NaN;
process.send({ t: 'result', sent, received, p50: pct(50), p99: pct(99) });
for (const ws of sockets) ws?.terminate();
process.disconnect();
