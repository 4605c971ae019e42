import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChatLine,
  chatsAround,
  type Placed,
  registerPlaced,
  type Sent,
  stream,
  verdict,
} from '../cli/chat-load.js';
import { login } from '../cli/login.js';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { netnsLeft } from '../server/netns.js';
import { type NetworkDomain, networkClientPolicy, startNetworkDomain } from '../server/network-domain.js';

/**
 * A domain on real network hosts: three `protofly serve` hosts, HAProxy (deploy/haproxy.cfg) and a
 * Redis Cluster of six redis-servers, each host a network namespace of its own on one bridge
 * (server/netns.ts), traffic only between them and this machine, where the users' runtimes
 * are and reach the balancer only. Under a load of three chats, each from a user of one host
 * to a user of the next: a host killed, a host's link cut and restored, the Redis master of a
 * host's channel killed and failed over. Each time nothing acknowledged is lost, nothing
 * arrives twice, and each sender's order holds. Needs root and iproute2: where namespaces
 * cannot be made the setup fails with PF_ERR_NETNS, saying so.
 */

const DOMAIN = 'c.example';
/** Bounds for a loaded machine, not measures: the start of six redis-servers, three hosts and the balancer. */
const START_MS = 240_000;
const WAIT = { timeout: 30_000 };
const FAST = { [DOMAIN]: { reconnectDelayMs: 50, reconnectDelayMaxMs: 200, randomizationFactor: 0 } };
/** A test's bound: under 30 s on a quiet machine, about 60 s at a load of 25 on two cores. */
const TEST_MS = 120_000;
const CHATS = 200;
/** After how many chats of its line the fault comes. */
const AT = 60;

let d: NetworkDomain;
let sandbox: NodeWorkerHost;

beforeAll(async () => {
  d = await startNetworkDomain({ domain: DOMAIN, hosts: 3 });
  sandbox = new NodeWorkerHost({ policy: networkClientPolicy });
  await sandbox.ready();
}, START_MS);

afterAll(async () => {
  await sandbox?.terminate();
  if (!d) return;
  await d.close();
  // Nothing of the network is left on the machine.
  expect(await netnsLeft(d.network.made)).toEqual([]);
}, START_MS);

/** Each host's open connections (a host that does not answer counts none). */
const connections = () =>
  Promise.all(
    d.hosts.map((h) =>
      h.health().then(
        (r) => r.body.connections,
        () => 0,
      ),
    ),
  );

/** Each host's status at the balancer's messaging backend (UP, DOWN...). */
async function states(): Promise<string[]> {
  const all = await d.stats();
  return d.hosts.map((h) => all.get(`protofly-nodes/${h.name}`)?.status ?? 'none');
}

/** The users of one test and their three chats, one from each host to the next. */
interface Load {
  readonly placed: Placed;
  readonly lines: ChatLine[];
  close(): Promise<void>;
}

/**
 * Registers six users named after `tag` through the balancer, one at a time (least
 * connections: two per host), and opens a chat from a user of each host to a user of the next.
 */
async function load(tag: string): Promise<Load> {
  const runtimes: NodeRuntime[] = [];
  const placed = new Map<string, { runtime: Runtime; host: number }>();
  const close = () => Promise.allSettled(runtimes.map((r) => r.close())).then(() => {});
  try {
    for (let i = 0; i < 6; i++) {
      const name = `${tag}${i}`;
      const address = `user://${DOMAIN}/${name}`;
      const rt = createNodeRuntime({
        policy: networkClientPolicy,
        identity: await login({ address, key: d.keyFile }),
        catalogues: { [DOMAIN]: d.catalogueUrl },
        host: sandbox,
        stubConfig: FAST,
        dataDir: false,
      });
      runtimes.push(rt);
      placed.set(name, {
        runtime: rt.runtime,
        host: await registerPlaced(rt.runtime, connections, WAIT.timeout),
      });
    }
    const counts = d.hosts.map((_, h) => [...placed.values()].filter((p) => p.host === h).length);
    expect(counts).toEqual([2, 2, 2]);
    const lines = await chatsAround(placed, 3, (name) => `user://${DOMAIN}/${name}`);
    return { placed, lines, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Every acknowledged chat arrives, once, in its sender's order; and most were acknowledged. */
async function expectDelivered(lines: readonly ChatLine[], sent: readonly Sent[]): Promise<void> {
  for (const [i, line] of lines.entries()) {
    await expect.poll(() => verdict(line.received, sent[i]!).lost, WAIT).toEqual([]);
    expect(verdict(line.received, sent[i]!)).toEqual({ lost: [], twice: [], outOfOrder: [] });
    expect(sent[i]!.acknowledged.length).toBeGreaterThan(CHATS / 2);
  }
}

describe('a domain on three network hosts behind HAProxy, on a Redis Cluster', () => {
  it(
    'loses nothing acknowledged when a host is killed mid-chat; the host rejoins once started again',
    async () => {
      await expect.poll(states, WAIT).toEqual(['UP', 'UP', 'UP']);
      const l = await load('kill');
      try {
        const victim = d.hosts[0]!;
        const sent = await Promise.all(
          l.lines.map((line, i) =>
            stream(line, CHATS, i === 0 ? { at: AT, during: () => victim.kill() } : {}),
          ),
        );
        // The balancer took it out; its users are on the two others.
        await expect.poll(states, WAIT).toEqual(['DOWN', 'UP', 'UP']);
        await expect.poll(connections, WAIT).toEqual([0, expect.any(Number), expect.any(Number)]);
        expect((await connections()).reduce((a, b) => a + b)).toBe(6);
        await expectDelivered(l.lines, sent);
      } finally {
        await l.close();
      }
      await d.hosts[0]!.start();
      await expect.poll(states, WAIT).toEqual(['UP', 'UP', 'UP']);
    },
    TEST_MS,
  );

  it(
    "loses nothing acknowledged when a host's link is cut mid-chat and restored",
    async () => {
      await expect.poll(connections, WAIT).toEqual([0, 0, 0]);
      const l = await load('cut');
      try {
        const victim = d.hosts[1]!;
        const sent = await Promise.all(
          l.lines.map((line, i) =>
            stream(
              line,
              CHATS,
              i === 1
                ? {
                    at: AT,
                    during: async () => {
                      await victim.cut();
                      // Out at the balancer, which closes the sessions through it: its users move.
                      await expect.poll(states, WAIT).toEqual(['UP', 'DOWN', 'UP']);
                    },
                  }
                : {},
            ),
          ),
        );
        await expectDelivered(l.lines, sent);
        await victim.restore();
        await expect.poll(states, WAIT).toEqual(['UP', 'UP', 'UP']);
        // Back on the network, the host delivers nothing late: a second round on the same lines
        // arrives once and in order after the first.
        const again = await Promise.all(l.lines.map((line) => stream(line, 20, { first: CHATS })));
        await expectDelivered(
          l.lines,
          sent.map((s, i) => ({
            acknowledged: [...s.acknowledged, ...again[i]!.acknowledged],
            failed: [...s.failed, ...again[i]!.failed],
          })),
        );
      } finally {
        await l.close();
      }
    },
    TEST_MS,
  );

  it(
    "loses nothing acknowledged when the Redis master of a host's channel is killed and its replica takes over",
    async () => {
      await expect.poll(connections, WAIT).toEqual([0, 0, 0]);
      const l = await load('failover');
      try {
        // The shard that carries what reaches the recipient of the third chat: its host's channel's master.
        const recipientHost = d.hosts[l.placed.get(l.lines[2]!.to)!.host]!;
        const node = (await recipientHost.health()).body as unknown as { node: string };
        const master = await d.redis.masterOf(`pf:${DOMAIN}:node:${node.node}`);
        const sent = await Promise.all(
          l.lines.map((line, i) =>
            stream(line, CHATS, i === 2 ? { at: AT, during: () => master.stop('SIGKILL') } : {}),
          ),
        );
        await d.redis.failedOver(master);
        await expectDelivered(l.lines, sent);
      } finally {
        await l.close();
      }
    },
    TEST_MS,
  );
});
