import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { WebSocket } from 'ws';
import { type Message, response } from '../core/message.js';
import { startPlainHub } from './plain-hub.js';
import { ALICE, BOB, bareClient, chat, type Path } from './round-trips.js';

/**
 * The floor of a sandboxed round trip on this machine: the plain hub's round trip with each
 * client's frames crossing to a worker thread and back, as a stub's do (the host holds the
 * socket, the stub runs in the worker), and no work in the worker but a copy. Eight crossings
 * a round trip: Alice's chat out and its answer in, Bob's chat in and his answer out, each
 * main → worker → main.
 *
 * - `port`: the crossings are `postMessage`s, as the sandbox's channel; each side sleeps in its
 *   event loop until woken.
 * - `spin`: what no runtime would ship, to show that the cost is the waking: the worker
 *   busy-polls its port, and after each post the main thread polls for the answer for up to
 *   100 µs before it returns to its event loop.
 * - `sockets`: the worker holds the sockets itself, so a round trip crosses by `postMessage`
 *   four times (the app's chats and answers) and the four WebSocket hops cross threads too.
 */
export type FloorMode = 'port' | 'spin' | 'sockets';

/** Turns a chat for the socket into a frame, and a frame from the socket into the app's message, like a stub. */
const WORKER = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { port, mode, ws, url, who } = workerData;
const handle = (f) => port.postMessage(f.t === 'deliver'
  ? { t: 'socketSend', who: f.who, data: JSON.stringify({ t: 'msg', m: f.m }) }
  : { t: 'send', who: f.who, m: f.m });
if (mode === 'spin') for (;;) { const r = receiveMessageOnPort(port); if (r) handle(r.message); }
else if (mode === 'port') port.on('message', handle);
else {
  const WebSocket = require(ws);
  const open = (name) => new Promise((ready) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on('open', () => socket.send(JSON.stringify({ t: 'hello', address: who[name] })));
    socket.on('message', (data) => {
      const f = JSON.parse(String(data));
      if (f.t === 'ready') ready(socket);
      else port.postMessage({ t: 'send', who: name, m: f.m });
    });
  });
  Promise.all([open('alice'), open('bob')]).then(([alice, bob]) => {
    const sockets = { alice, bob };
    port.on('message', (f) => sockets[f.who].send(JSON.stringify({ t: 'msg', m: f.m })));
    port.postMessage({ t: 'ready' });
  });
}
`;

const SPIN_MS = 0.1;

type Who = 'alice' | 'bob';
type Crossing =
  | { t: 'deliver' | 'socket' | 'send'; who: Who; m: Message }
  | { t: 'socketSend'; who: Who; data: string }
  | { t: 'ready' };

/** Alice and Bob on a hub of their own, each client's frames through one worker. */
export async function workerFloorPath(mode: FloorMode): Promise<Path> {
  const hub = await startPlainHub();
  const { port1: port, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      port: port2,
      mode,
      ws: createRequire(import.meta.url).resolve('ws'),
      url: hub.url,
      who: { alice: ALICE, bob: BOB },
    },
    transferList: [port2],
  });
  const sockets: Partial<Record<Who, WebSocket>> = {};
  const post = (frame: Crossing) => {
    port.postMessage(frame);
    if (mode !== 'spin') return;
    const until = performance.now() + SPIN_MS;
    while (performance.now() < until) {
      const answer = receiveMessageOnPort(port);
      if (answer) return take(answer.message as Crossing);
    }
  };
  let ready: () => void;
  const take = (frame: Crossing) => {
    if (frame.t === 'ready') ready();
    else if (frame.t === 'socketSend') sockets[frame.who]?.send(frame.data);
    else if (frame.who === 'bob') post({ t: 'deliver', who: 'bob', m: response(frame.m, 200) });
    else path.onReply(frame.m);
  };
  port.on('message', take);
  if (mode === 'sockets') await new Promise<void>((resolve) => (ready = resolve));
  else {
    const hello = (address: string) => ({ t: 'hello', address });
    sockets.bob = await bareClient(hub.url, hello(BOB), (m) => post({ t: 'socket', who: 'bob', m }));
    sockets.alice = await bareClient(hub.url, hello(ALICE), (m) => post({ t: 'socket', who: 'alice', m }));
  }
  const path: Path = {
    send: () => post({ t: 'deliver', who: 'alice', m: chat() }),
    onReply: () => {},
    close: async () => {
      sockets.alice?.close();
      sockets.bob?.close();
      port.close();
      await worker.terminate();
      await hub.close();
    },
  };
  return path;
}
