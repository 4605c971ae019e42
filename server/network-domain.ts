import { type ChildProcess, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { packageRoot } from '../node/package-root.js';
import { developmentPolicy, type RuntimePolicy } from '../runtime/policy.js';
import { generateDomainKey } from './catalogue/keys.js';
import { createNetwork, type HostNetwork, type NetHost } from './netns.js';
import { type RedisClusterServers, startRedisCluster } from './redis-cluster.js';

/**
 * A domain on real network hosts (server/netns.ts): `protofly serve` on each of N hosts,
 * sharing the domain key, on a Redis Cluster (three masters with a replica each) in a host of
 * its own, behind HAProxy run with deploy/haproxy.cfg in another. Clients, on this machine,
 * know only the balancer's catalogue and messaging URLs. What `protofly demo --cluster` and
 * test/network-hosts.test.ts run.
 */

/** The ports every host uses on its own address (a namespace has all its ports). */
const PORTS = { catalogue: 7080, messaging: 7081, admin: 7082 } as const;
/** The balancer's public ports. */
const PUBLIC = { catalogue: 7080, messaging: 7081 } as const;
/** The Redis Cluster's first port: node i on FIRST + i, its cluster bus on FIRST + 100 + i. */
const REDIS_FIRST_PORT = 7000;
/** How long a host's start waits for the Redis Cluster to answer. */
const REDIS_CONNECT_MS = 30_000;
/** Health checks this often: a host that fails two is out. */
const CHECK_INTERVAL = '100ms';
/** The HAProxy install line for the error when it is missing. */
const HAPROXY_INSTALL = 'apt-get install -y haproxy';

/**
 * The runtime policy of the domain's clients: developmentPolicy's, but for the endpoints, which
 * are on the network's private addresses over plain `ws://` (a network inside this machine, that
 * no one else is on; a domain on real machines puts `wss://` in front).
 */
export const networkClientPolicy: RuntimePolicy = {
  ...developmentPolicy,
  endpoints: { addresses: ['private'], plainWebSocket: 'always' },
};

/** One host of the domain: a `protofly serve` process in its own namespace. */
export interface DomainHost {
  readonly name: string;
  readonly address: string;
  /** Its messaging node, `ws://<address>:7081/`, behind the balancer. */
  readonly messagingUrl: string;
  /** Its admin port's base URL (`/health`, `/metrics`). */
  readonly adminUrl: string;
  /** The serving process, or undefined while the host is down. */
  readonly process: ChildProcess | undefined;
  /** `/health`: 200 and `serving`, 503 and `draining`; rejects when the host does not answer. */
  health(): Promise<{ status: number; body: { status: string; connections: number } }>;
  /** Kills every process of the host (SIGKILL), as a machine that loses power. */
  kill(): Promise<void>;
  /** Cuts its link at the switch; {@link restore} puts it back. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** Starts `protofly serve` on it again (after {@link kill}), with the same data. */
  start(): Promise<void>;
}

/** What HAProxy says of one server (`show stat`), by column name. */
export type BalancerStat = Record<string, string>;

export interface NetworkDomain {
  readonly domain: string;
  readonly network: HostNetwork;
  readonly hosts: readonly DomainHost[];
  readonly redis: RedisClusterServers;
  /** The balancer's URLs, what clients are given. */
  readonly catalogueUrl: string;
  readonly messagingUrl: string;
  /** The domain key's file (`<domain>.key`), to mint users' tokens as the domain would. */
  readonly keyFile: string;
  /** HAProxy's `show stat`, by `<backend>/<server>`. */
  stats(): Promise<Map<string, BalancerStat>>;
  /** Stops everything and deletes the network and the files. */
  close(): Promise<void>;
}

export interface NetworkDomainOptions {
  readonly domain: string;
  /** How many `protofly serve` hosts (deploy/haproxy.cfg names three). */
  readonly hosts?: number;
}

/**
 * Starts the domain: the network, the Redis Cluster, the hosts, the balancer, in that order;
 * resolves once every host serves and the balancer counts them all up.
 *
 * @throws ProtoflyError `PF_ERR_NETNS` when namespaces cannot be made here, `PF_ERR_CONFIG`
 *   when redis-server or haproxy is not installed or a host does not start; what was started
 *   is stopped.
 */
export async function startNetworkDomain(options: NetworkDomainOptions): Promise<NetworkDomain> {
  const { domain } = options;
  const count = options.hosts ?? 3;
  if (spawnSync('haproxy', ['-v']).error) {
    throw new ProtoflyError('PF_ERR_CONFIG', `haproxy is not installed: ${HAPROXY_INSTALL}`);
  }
  const names = Array.from({ length: count }, (_, i) => `host${i + 1}`);
  const network = await createNetwork(['redis', 'balancer', ...names]);
  const dir = await mkdtemp(join(tmpdir(), 'pf-network-domain-'));
  const hosts: DomainHost[] = [];
  let redis: RedisClusterServers | undefined;
  const close = async () => {
    // Processes first (each host's and the balancer's, SIGKILL), then Redis's files, then the network.
    await Promise.all(hosts.map((h) => h.kill()));
    await network.hosts.get('balancer')!.kill();
    await redis?.stop();
    await network.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const redisHost = network.hosts.get('redis')!;
    let nextPort = REDIS_FIRST_PORT;
    redis = await startRedisCluster({
      address: redisHost.address,
      spawn: redisHost.spawn,
      port: async () => nextPort++,
    });
    const balancer = network.hosts.get('balancer')!;
    const messagingUrl = `ws://${balancer.address}:${PUBLIC.messaging}/`;
    await generateDomainKey(domain, join(dir, 'key'));
    const keyFile = join(dir, 'key', `${domain}.key`);
    const seeds = redis.seeds;
    const started = await Promise.allSettled(
      names.map((name) =>
        serveOn(network.hosts.get(name)!, { dir, domain, keyFile, seeds, publicUrl: messagingUrl }),
      ),
    );
    hosts.push(...started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const socket = join(dir, 'haproxy.sock');
    await startBalancer(balancer, hosts, socket);
    const stats = () => balancerStats(socket);
    // Every host up at the balancer: clients are spread from the first.
    const deadline = performance.now() + 30_000;
    for (;;) {
      const all = await stats().catch(() => new Map<string, BalancerStat>());
      if (names.every((n) => all.get(`protofly-nodes/${n}`)?.status === 'UP')) break;
      if (performance.now() > deadline)
        throw new ProtoflyError('PF_ERR_CONFIG', 'the balancer did not count every host up within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return {
      domain,
      network,
      hosts,
      redis,
      catalogueUrl: `http://${balancer.address}:${PUBLIC.catalogue}`,
      messagingUrl,
      keyFile,
      stats,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

interface HostSetup {
  readonly dir: string;
  readonly domain: string;
  readonly keyFile: string;
  readonly seeds: readonly string[];
  readonly publicUrl: string;
}

/**
 * `protofly serve` on `host`: its own data directory with a copy of the domain key, bound to the
 * host's address, location and cluster on the Redis Cluster (README: a domain on several hosts).
 */
async function serveOn(host: NetHost, s: HostSetup): Promise<DomainHost> {
  const home = join(s.dir, host.name);
  await mkdir(join(home, 'data', 'keys'), { recursive: true });
  await copyFile(s.keyFile, join(home, 'data', 'keys', `${s.domain}.key`));
  const config = join(home, 'domain.yaml');
  // Three hosts starting at once on a small machine: the first answer of a Redis Cluster (a
  // connection to each of its masters) may take longer than the default 5 s.
  const redis = `{ cluster: ${JSON.stringify(s.seeds)}, connectTimeoutMs: ${REDIS_CONNECT_MS} }`;
  await writeFile(
    config,
    [
      `domain: ${s.domain}`,
      `dataDir: ${join(home, 'data')}`,
      `host: ${host.address}`,
      `ports: { catalogue: ${PORTS.catalogue}, messaging: ${PORTS.messaging}, admin: ${PORTS.admin} }`,
      // Room to hold what is in flight to a host that dies, and a rate above a test's load.
      'limits: { messagesPerSecond: 5000, offlineMessages: 1000 }',
      'services:',
      `  location: { backend: location-redis, config: ${redis} }`,
      `  cluster: { backend: cluster-redis, config: ${redis} }`,
      '',
    ].join('\n'),
  );
  const bin = join(packageRoot(import.meta.url), 'bin/protofly.js');
  let child: ChildProcess | undefined;
  const adminUrl = `http://${host.address}:${PORTS.admin}`;
  const start = async () => {
    const serving = host.spawn(
      process.execPath,
      [bin, 'serve', '--config', config, '--nodes', '1', '--public-url', s.publicUrl],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = serving;
    serving.once('exit', () => {
      if (child === serving) child = undefined;
    });
    let out = '';
    serving.stderr!.on('data', (d) => {
      out += d;
    });
    await new Promise<void>((resolve, reject) => {
      serving.stdout!.on('data', (d) => {
        // Its pino log follows; only the start is kept for an error.
        if (out.length < 64_000) out += d;
        if (out.includes('Ctrl-C stops it.')) resolve();
      });
      serving.once('exit', (code) =>
        reject(new ProtoflyError('PF_ERR_CONFIG', `${host.name}: protofly serve exited ${code}: ${out}`)),
      );
    });
    // Nobody reads its log from now on: drained, so that the pipe never fills.
    serving.stdout!.resume();
  };
  await start();
  return {
    name: host.name,
    address: host.address,
    messagingUrl: `ws://${host.address}:${PORTS.messaging}/`,
    adminUrl,
    get process() {
      return child;
    },
    async health() {
      const res = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, body: (await res.json()) as { status: string; connections: number } };
    },
    kill: () => host.kill(),
    cut: () => host.cut(),
    restore: () => host.restore(),
    start,
  };
}

/** HAProxy with deploy/haproxy.cfg in `host`, given the hosts' addresses. */
async function startBalancer(host: NetHost, hosts: readonly DomainHost[], socket: string): Promise<void> {
  const env: Record<string, string> = {
    PF_MESSAGING_BIND: `${host.address}:${PUBLIC.messaging}`,
    PF_CATALOGUE_BIND: `${host.address}:${PUBLIC.catalogue}`,
    PF_CHECK_INTERVAL: CHECK_INTERVAL,
    PF_STATS_SOCKET: socket,
  };
  hosts.forEach((h, i) => {
    env[`PF_HOST${i + 1}_MESSAGING`] = `${h.address}:${PORTS.messaging}`;
    env[`PF_HOST${i + 1}_ADMIN_PORT`] = String(PORTS.admin);
    env[`PF_HOST${i + 1}_CATALOGUE`] = `${h.address}:${PORTS.catalogue}`;
  });
  const cfg = join(packageRoot(import.meta.url), 'deploy/haproxy.cfg');
  const child = host.spawn('haproxy', ['-f', cfg, '-db'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  // Ready once its runtime API answers; an exit before is the error.
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new ProtoflyError('PF_ERR_CONFIG', `haproxy exited ${code}: ${err}`)),
    ),
  );
  exited.catch(() => {});
  const deadline = performance.now() + 10_000;
  while (
    !(await Promise.race([
      balancerStats(socket).then(
        () => true,
        () => false,
      ),
      exited,
    ]))
  ) {
    if (performance.now() > deadline)
      throw new ProtoflyError('PF_ERR_CONFIG', `haproxy did not start: ${err}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sends one command to HAProxy's runtime API at `socket`; its answer. */
export function balancerCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let text = '';
    s.on('data', (d) => {
      text += d;
    });
    s.on('error', reject);
    s.on('end', () => resolve(text));
    s.end(`${command}\n`);
  });
}

/** HAProxy's `show stat` from its runtime API at `socket`, by `<backend>/<server>`. */
export async function balancerStats(socket: string): Promise<Map<string, BalancerStat>> {
  const [header, ...rows] = (await balancerCommand(socket, 'show stat')).trim().split('\n');
  const names = header!.replace(/^# /, '').split(',');
  const byServer = new Map<string, BalancerStat>();
  for (const row of rows) {
    const stat = Object.fromEntries(row.split(',').map((v, i) => [names[i], v]));
    byServer.set(`${stat.pxname}/${stat.svname}`, stat);
  }
  return byServer;
}
