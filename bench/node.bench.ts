import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type Message, response } from '../core/message.js';
import { createNodeRuntime } from '../entry/node-runtime.js';
import activate from '../plugins/stubs/json-ws/index.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { SandboxHost } from '../sandbox/host.js';
import { IsolateHost } from '../sandbox/isolate/isolate-host.js';
import { loadIsolatedVm } from '../sandbox/isolate/isolated-vm.js';
import { DirectContext, DirectSession } from '../sandbox/node/direct-context.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { startLocalDomains } from '../server/domain.js';
import { startMessagingNode } from '../server/messaging-node/messaging-node.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import type { BenchOptions, Result } from './harness.js';
import { startPlainHub } from './plain-hub.js';
import { ALICE, BOB, barePair, chat, compare, type Path } from './round-trips.js';
import { workerFloorPath } from './worker-floor.js';

/**
 * Chat round trips Alice → Bob → Alice on loopback, four WebSocket hops each, through:
 *
 * - the baseline: a plain `ws` JSON hub (parse, look up `m.to`, re-serialise, send);
 * - the messaging node, with bare clients speaking json-ws (the node validates every frame,
 *   checks the sender, rate-limits, acknowledges and counts);
 * - the node with the json-ws stub at both ends (framing, ack window, de-duplication),
 *   run on a direct context, without a sandbox;
 * - the whole product: Alice's runtime (bus, conversation, sandboxed stub in a worker thread;
 *   again with the worker host's sandbox in a child process; and in an isolate on Node ≥ 24) →
 *   b.example's node → Bob's runtime, whose app takes the chat and whose runtime answers 200
 *   back the same way. The round trip ends when Alice's `send` resolves.
 *
 * - the floor of any sandbox on this machine: a hub like the baseline's, each client's frames
 *   crossing to a worker thread and back as a stub's do, and no work done (worker-floor.ts).
 *
 * Latency: one message at a time. Throughput: `WINDOW` round trips in flight (round-trips.ts).
 */

/** The baseline hub. */
async function hubPath(): Promise<Path> {
  const hub = await startPlainHub();
  return barePair(
    { alice: hub.url, bob: hub.url },
    async (address) => ({ t: 'hello', address }),
    () => hub.close(),
  );
}

async function startNode() {
  const identity = await testIdentity('b.example');
  const node = await startMessagingNode({
    domain: 'b.example',
    identity,
    messagesPerSecond: 1e9,
    log: pino({ level: 'silent' }),
  });
  return { node, identity };
}

/** The node with bare json-ws clients. */
async function nodePath(): Promise<Path> {
  const { node, identity } = await startNode();
  return barePair(
    { alice: node.url, bob: node.url },
    async (address) => ({ t: 'auth', token: await identity.issue(address) }),
    () => node.close(),
  );
}

/** A direct context that hands what the stub receives to `deliver` instead of recording it. */
class BenchContext extends DirectContext {
  deliver: (m: Message) => void = () => {};
  override send(msg: Message): void {
    this.deliver(msg);
  }
}

/** The node with the json-ws stub at both ends. */
async function stubPath(): Promise<Path> {
  const { node, identity } = await startNode();
  const open = async (address: string) => {
    const session = new DirectSession();
    const ctx = new BenchContext({
      address,
      token: await identity.issue(address),
      config: { url: node.url },
      session,
    });
    const stub = await activate(ctx);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    return { ctx, stub, session };
  };
  const alice = await open(ALICE);
  const bob = await open(BOB);
  bob.ctx.deliver = (m) => bob.stub.postMessage(response(m, 200));
  const path: Path = {
    send: () => alice.stub.postMessage(chat()),
    onReply: () => {},
    close: async () => {
      for (const end of [alice, bob]) {
        await end.stub.stop();
        end.ctx.end();
        end.session.end();
      }
      await node.close();
    },
  };
  alice.ctx.deliver = (m) => path.onReply(m);
  return path;
}

/** Chats the end-to-end path had refused: a round trip that fails is not a fast one. */
let refused = 0;

const isolatedVm = loadIsolatedVm();

/**
 * Two runtimes, each with the verified json-ws stub in a sandbox of `host`'s making (worker
 * threads, or same-thread isolates where isolated-vm loads), through real domains.
 */
async function runtimePath(makeHost: () => SandboxHost): Promise<Path> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-node-'));
  const domains = await startLocalDomains(['a.example', 'b.example'], dir, {
    users: new Map(),
    log: pino({ level: 'silent' }),
    limits: { messagesPerSecond: 1_000_000 },
  });
  const host = makeHost();
  const runtime = (address: string) => {
    const home = domains.byName.get(address.split('/')[2]!)!;
    return createNodeRuntime({
      policy: developmentPolicy,
      identity: { address, token: (aud) => home.identity.issue(address, 600, aud) },
      catalogues: domains.peers,
      host,
      // Each run makes new domain keys: nothing to keep.
      dataDir: false,
    });
  };
  const bob = runtime('user://b.example/bob');
  // Bob's app reads what arrives (a conversation holds at most 10 000 unread messages, then answers 503).
  bob.runtime.on('conversation', (c) => c.on('message', () => {}));
  await bob.runtime.register();
  const alice = runtime('user://a.example/alice');
  const withBob = await alice.runtime.conversation('user://b.example/bob');
  const text = (chat().body as { value: { text: string } }).value.text;
  const path: Path = {
    send: () => {
      // A refused chat still ends its round trip (the run must finish); it is counted and reported.
      withBob.send(text).then(
        (res) => path.onReply(res),
        () => {
          refused++;
          path.onReply(chat());
        },
      );
    },
    onReply: () => {},
    close: async () => {
      await alice.close();
      await bob.close();
      await host.terminate();
      await domains.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return path;
}

export default async function nodeBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 500 : 2500;
  const hub = await hubPath();
  const results: Result[] = [];
  const ivm = isolatedVm.ivm;
  const endToEnd: readonly (readonly [string, () => Promise<Path>])[] = [
    [
      'runtime + sandbox + json-ws stub + node, end to end',
      () => runtimePath(() => new NodeWorkerHost({ policy: developmentPolicy })),
    ],
    [
      'runtime + sandbox in a child process + json-ws stub + node, end to end',
      () => runtimePath(() => new NodeWorkerHost({ policy: developmentPolicy, isolation: 'process' })),
    ],
    ...(ivm
      ? ([
          [
            'runtime + isolate host + json-ws stub + node, end to end',
            () => runtimePath(() => new IsolateHost(ivm, { policy: developmentPolicy })),
          ],
        ] as const)
      : []),
  ];
  for (const [name, start] of [
    ['node, bare clients', nodePath],
    ['node, json-ws stub at both ends', stubPath],
    ...endToEnd,
    [
      'floor: the hub, each client behind a worker thread (8 crossings, no work)',
      () => workerFloorPath('port'),
    ],
    ['floor, both threads busy-polling (not shippable)', () => workerFloorPath('spin')],
    [
      'floor, sockets held in the worker (4 crossings, 4 hops across threads)',
      () => workerFloorPath('sockets'),
    ],
  ] as const) {
    refused = 0;
    const path = await start();
    results.push(...(await compare(name, path, hub, rounds, n)));
    if (endToEnd.some(([, s]) => s === start)) {
      results.push({
        name: `${name}: chats refused (4xx/5xx)`,
        unit: 'messages',
        median: refused,
        p99: refused,
      });
    }
    await path.close();
  }
  await hub.close();
  return results;
}
