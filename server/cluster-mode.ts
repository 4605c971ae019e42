import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { type ErrorCode, isProtoflyError, ProtoflyError } from '../core/errors.js';
import type { BackendDescriptor } from '../core/generated/types.js';
import { packageRoot } from '../node/package-root.js';
import { publishBackends } from './backends/start-services.js';
import type { PublishResult } from './catalogue/publish.js';
import {
  advertiseTokenEndpoint,
  type DomainOptions,
  prepareDomain,
  publishStubs,
  startCatalogue,
  startDomainNode,
} from './domain.js';
import { SHUTDOWN_GRACE_MS } from './messaging-node/options.js';

/**
 * `protofly serve` with `nodes` > 1: one domain served by several messaging node processes
 * (node:cluster) that share the messaging port, the primary handing each connection to one of
 * them. They share state through the domain's shared backends (location-redis, cluster-redis):
 * a user on one node reaches a user on another; when a node dies, its clients reconnect to
 * the same port, land on a live node, and what was acknowledged to them is delivered or held.
 *
 * The primary runs the catalogue and publishes the backends and stubs; each node process
 * loads the backends from it, verified, and runs one messaging node. A node that dies is
 * started again.
 */

/** What a node process tells the primary when it cannot start. */
interface NodeFailure {
  readonly t: 'failed';
  readonly code: ErrorCode;
  readonly message: string;
}

/** What a node process reports to the primary once it serves. */
export interface NodeReport {
  readonly t: 'ready';
  readonly index: number;
  readonly id: string;
  readonly pid: number;
  readonly url: string;
  readonly adminUrl: string;
  readonly backends: readonly BackendDescriptor[];
}

/** The environment variable that tells a node process what to run. */
const NODE_ENV = 'PROTOFLY_CLUSTER_NODE';
/** Milliseconds before a node that died is started again. */
const RESPAWN_MS = 500;
/**
 * Milliseconds a node process has to close gracefully, beyond the wait for its clients to leave
 * (limits.shutdownGraceMs, the messaging node's default otherwise), before it is killed.
 */
const CLOSE_GRACE_MS = 10_000;

export interface RunningCluster {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly nodeUrl: string;
  readonly dataDir: string;
  readonly keyId: string;
  /** The node processes serving now, by index. */
  readonly nodes: ReadonlyMap<number, NodeReport>;
  readonly published: readonly PublishResult[];
  /** Called with each node started again after one died. */
  onRespawn?: (report: NodeReport) => void;
  close(): Promise<void>;
}

/** Whether this process is a node process of a cluster (started by {@link startCluster}). */
export function isClusterNode(): boolean {
  return cluster.isWorker && process.env[NODE_ENV] !== undefined;
}

/**
 * Runs the primary: catalogue, backends published, `config.nodes` node processes, stubs
 * published for their shared URL.
 *
 * @param args - the `protofly` arguments node processes run with (they reach {@link runClusterNode}).
 */
export async function startCluster(
  config: unknown,
  args: readonly string[],
  options: DomainOptions = {},
): Promise<RunningCluster> {
  const d = await prepareDomain(config, options);
  const catalogue = await startCatalogue(d);
  await publishBackends(d.config.services, d.key, d.catalogueDir);
  cluster.setupPrimary({ exec: join(packageRoot(import.meta.url), 'bin/protofly.js'), args: [...args] });
  const nodes = new Map<number, NodeReport>();
  let closing = false;
  const workers = new Set<Worker>();

  const fork = (index: number): Promise<NodeReport> => {
    const worker = cluster.fork({
      [NODE_ENV]: JSON.stringify({ config: d.config, catalogueUrl: catalogue.url, index }),
    });
    workers.add(worker);
    return new Promise((resolve, reject) => {
      let failure: ProtoflyError | undefined;
      worker.on('message', (m: NodeReport | NodeFailure) => {
        if (m?.t === 'failed') failure = new ProtoflyError(m.code, m.message.slice(m.code.length + 2));
        if (m?.t !== 'ready') return;
        nodes.set(index, m);
        resolve(m);
      });
      worker.on('exit', (code, signal) => {
        workers.delete(worker);
        if (nodes.get(index)?.pid === worker.process.pid) nodes.delete(index);
        reject(
          failure ??
            new ProtoflyError(
              'PF_ERR_CONFIG',
              `node process ${index} exited (${signal ?? code}) before serving`,
            ),
        );
        if (closing) return;
        d.log.warn({ index, pid: worker.process.pid, code, signal }, 'node process died; starting another');
        setTimeout(() => {
          if (closing) return;
          fork(index).then(
            (report) => running.onRespawn?.(report),
            (err: Error) => d.log.error({ index, err: err.message }, 'node process not started again'),
          );
        }, RESPAWN_MS);
      });
    });
  };

  // A draining node is not killed while it still waits for its clients.
  const killAfter = (d.config.limits?.shutdownGraceMs ?? SHUTDOWN_GRACE_MS) + CLOSE_GRACE_MS;
  const close = async () => {
    closing = true;
    await Promise.all(
      [...workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => w.process.kill('SIGKILL'), killAfter);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w.process.kill('SIGTERM');
          }),
      ),
    );
    await catalogue.server.close();
  };

  let reports: NodeReport[];
  try {
    reports = await Promise.all(Array.from({ length: d.config.nodes ?? 1 }, (_, i) => fork(i)));
  } catch (err) {
    await close();
    throw err;
  }
  const nodeUrl = reports[0]!.url;
  const published = await publishStubs(d, options.publicUrl ?? nodeUrl);
  await advertiseTokenEndpoint(d, options.publicUrl ?? nodeUrl);
  const running: RunningCluster = {
    domain: d.config.domain,
    catalogueUrl: catalogue.url,
    nodeUrl,
    dataDir: d.dataDir,
    keyId: d.key.publicJwk.kid,
    nodes,
    published,
    close,
  };
  return running;
}

/**
 * Runs one node process of a cluster: the domain's services from the primary's catalogue and
 * a messaging node on the shared port, until SIGTERM or SIGINT closes it gracefully.
 *
 * @returns the exit status: 1 when the node could not start (the primary reports why).
 */
export async function runClusterNode(): Promise<number> {
  const { config, catalogueUrl, index } = JSON.parse(process.env[NODE_ENV]!) as {
    config: unknown;
    catalogueUrl: string;
    index: number;
  };
  const d = await prepareDomain(config);
  let node: Awaited<ReturnType<typeof startDomainNode>>;
  try {
    node = await startDomainNode(d, catalogueUrl, index);
  } catch (err) {
    // The primary says why, with the code; this process just ends.
    if (isProtoflyError(err)) {
      const failure: NodeFailure = { t: 'failed', code: err.code, message: err.message };
      await new Promise<void>((sent) => process.send!(failure, () => sent()));
    }
    process.disconnect();
    if (!isProtoflyError(err)) throw err;
    return 1;
  }
  const report: NodeReport = {
    t: 'ready',
    index,
    id: node.node.id,
    pid: process.pid,
    url: node.url,
    adminUrl: node.node.adminUrl,
    backends: node.backends,
  };
  process.send!(report);
  await new Promise<void>((done) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
    // The primary is gone: nobody hands this node connections any more.
    process.once('disconnect', () => done());
  });
  await node.close();
  // The IPC channel to the primary would keep this process alive.
  if (process.connected) process.disconnect();
  return 0;
}
