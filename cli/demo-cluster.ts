import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import type { SandboxHost } from '../sandbox/host.js';
import type { NodeHostKind } from '../sandbox/isolate/choose.js';
import { type NetworkDomain, networkClientPolicy, startNetworkDomain } from '../server/network-domain.js';
import { chatsAround, registerPlaced, type Sent, stream, verdict } from './chat-load.js';
import { type DemoReport, demoHost, emptyReport, failureOf, phaseTimer } from './demo-report.js';
import { login } from './login.js';

/**
 * `protofly demo --cluster`: c.example on three real network hosts (namespaces, server/netns.ts)
 * behind HAProxy on a Redis Cluster (server/network-domain.ts). Six users register through the
 * balancer, two per host; three chats go from each host to the next; in the middle of them the
 * first host is killed (every process of it, SIGKILL). Its users reconnect through the balancer
 * to the other two; the report counts what was acknowledged and never arrived (`lost`).
 */

const DOMAIN = 'c.example';
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
/** Chats per line, and after how many of the first line's the host dies. */
const CHATS = 150;
const KILL_AT = 50;
/** How long the last chats may take to arrive once acknowledged: a bound, not a measure. */
const ARRIVAL_MS = 20_000;
/** Reconnect at once, through the balancer: the default backoff would only slow the demo. */
const STUB_CONFIG = { [DOMAIN]: { reconnectDelayMs: 50, reconnectDelayMaxMs: 200, randomizationFactor: 0 } };
const COLUMNS = ['users (this machine)', 'balancer', 'host1', 'host2', 'host3', 'Redis Cluster'];
const [USERS_COL, LB, , , , REDIS] = [0, 1, 2, 3, 4, 5] as const;
const hostColumn = (i: number) => 2 + i;

/** Each host's open connections by its /health (a host that does not answer counts none). */
function connections(d: NetworkDomain): Promise<number[]> {
  return Promise.all(
    d.hosts.map((h) =>
      h.health().then(
        (r) => r.body.connections,
        () => 0,
      ),
    ),
  );
}

/** Polls `check` until it holds or `ms` pass; whether it held. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export async function runClusterDemo(kind?: NodeHostKind): Promise<DemoReport> {
  const report = emptyReport(COLUMNS);
  const rows = report.ladder.rows;
  const phase = phaseTimer(report);
  const runtimes: NodeRuntime[] = [];
  let sandbox: SandboxHost | undefined;
  let domain: NetworkDomain | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'protofly-demo-cluster-'));
  try {
    const d = await startNetworkDomain({ domain: DOMAIN, hosts: 3 });
    domain = d;
    rows.push({
      note: `${d.network.subnet}: redis ${d.redis.seeds.length} nodes, balancer, ${d.hosts.length} hosts`,
    });
    phase('network, Redis Cluster, hosts, balancer');
    sandbox = await demoHost(report, networkClientPolicy, kind);
    const host = sandbox;
    phase('sandbox');

    // Registered one at a time, to see where the balancer put each.
    const placed = new Map<string, { runtime: Runtime; host: number }>();
    for (const name of USERS) {
      const address = `user://${DOMAIN}/${name}`;
      const rt = createNodeRuntime({
        policy: networkClientPolicy,
        identity: await login({ address, key: d.keyFile }),
        catalogues: { [DOMAIN]: d.catalogueUrl },
        host,
        stubConfig: STUB_CONFIG,
        dataDir: join(dir, name),
      });
      runtimes.push(rt);
      const at = await registerPlaced(rt.runtime, () => connections(d), ARRIVAL_MS);
      placed.set(name, { runtime: rt.runtime, host: at });
      rows.push({ from: USERS_COL, to: LB, label: `${name}: register` });
      rows.push({ from: LB, to: hostColumn(at), label: name });
    }
    report.hosts = d.hosts.map((h, i) => ({
      name: h.name,
      namespace: d.network.hosts.get(h.name)!.namespace,
      address: h.address,
      users: USERS.filter((u) => placed.get(u)?.host === i),
      killed: false,
    }));
    phase('six users register through the balancer');

    // A chat from a user of each host to a user of the next.
    const lines = await chatsAround(placed, d.hosts.length, (name) => `user://${DOMAIN}/${name}`);
    for (const [i, l] of lines.entries()) {
      rows.push({ from: hostColumn(i), to: REDIS, label: `${l.from} → ${l.to}: SPUBLISH` });
      rows.push({ from: REDIS, to: hostColumn((i + 1) % d.hosts.length), label: 'chat' });
    }
    phase('three chats across hosts');

    const victim = d.hosts[0]!;
    const kill = async () => {
      await victim.kill();
      report.hosts![0]!.killed = true;
      rows.push({ note: `${victim.name} killed mid-chat (SIGKILL, every process)` });
    };
    const sent: Sent[] = await Promise.all(
      lines.map((l, i) => stream(l, CHATS, i === 0 ? { at: KILL_AT, during: kill } : {})),
    );
    for (const name of report.hosts![0]!.users) {
      rows.push({ from: USERS_COL, to: LB, label: `${name}: reconnect` });
    }
    rows.push({ from: LB, to: hostColumn(1), label: 'host2, host3' });
    await within(ARRIVAL_MS, () => lines.every((l, i) => verdict(l.received, sent[i]!).lost.length === 0));
    phase('chats, a host killed, its users moved');

    let lost = 0;
    let wrong = 0;
    for (const [i, l] of lines.entries()) {
      const v = verdict(l.received, sent[i]!);
      lost += v.lost.length;
      wrong += v.twice.length + v.outOfOrder.length;
      report.messages.sent += CHATS;
      report.messages.delivered += new Set(l.received).size;
      rows.push({
        note: `${l.from} → ${l.to}: ${sent[i]!.acknowledged.length} acknowledged, ${sent[i]!.failed.length} refused (the sender told), ${v.lost.length} lost, ${v.twice.length} twice, ${v.outOfOrder.length} out of order`,
      });
    }
    report.lost = lost;
    report.ok = lost === 0 && wrong === 0 && report.hosts![0]!.killed;
  } catch (err) {
    report.error = failureOf(err);
  } finally {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    await sandbox?.terminate();
    await domain?.close();
    await rm(dir, { recursive: true, force: true });
  }
  return report;
}
