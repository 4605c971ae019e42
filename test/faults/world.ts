import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { pino } from 'pino';
import { createNodeRuntime, type NodeRuntime, type NodeRuntimeOptions } from '../../entry/node-runtime.js';
import { freePort } from '../../node/free-port.js';
import { StaticIdentity } from '../../plugins/backends/identity-static/static-identity.js';
import { developmentPolicy } from '../../runtime/policy.js';
import type { RuntimeIdentity } from '../../runtime/runtime.js';
import { publish } from '../../server/catalogue/publish.js';
import { type PreparedDomain, prepareDomain, publishStubs, startCatalogue } from '../../server/domain.js';

/**
 * The fault suite's world: one domain, b.example, whose catalogue runs in the test process and
 * whose messaging node runs in a process of its own (node-process.ts), to kill, stop and start
 * again on the same port; and real runtimes (worker sandbox, verifying loader) for its users.
 */

const ROOT = join(import.meta.dirname, '../..');
/** Bundled next to node_modules, whose packages it imports. */
const NODE_BUNDLE = join(ROOT, 'node_modules/.cache/protofly-faults/node-process.mjs');
export const DOMAIN = 'b.example';
export const JSON_WS = join(ROOT, 'plugins/stubs/json-ws');
/** A test stub folder under test/stubs or test/faults/stubs. */
export const stubDir = (name: string) => join(import.meta.dirname, 'stubs', name);

let bundled: Promise<void> | undefined;
function bundleNode(): Promise<void> {
  bundled ??= build({
    entryPoints: [join(import.meta.dirname, 'node-process.ts')],
    outfile: NODE_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  }).then(() => undefined);
  return bundled;
}

/** The messaging node's process. */
export class NodeProcess {
  #child: ChildProcess | undefined;

  constructor(
    readonly url: string,
    readonly port: number,
    private readonly keyFile: string,
  ) {}

  /**
   * Starts the node (again) on its port; resolves once it listens. It admits tokens signed with
   * the domain's key, or with the key in `keyFile` (a node restarted with a rotated key).
   */
  async start(keyFile = this.keyFile): Promise<void> {
    await bundleNode();
    const child = spawn(process.execPath, [NODE_BUNDLE, DOMAIN, keyFile, String(this.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('ready ')) resolve();
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`node exited ${code ?? signal} before ready: ${out}`)),
      );
    });
  }

  /** Sends `signal` to the node; for SIGKILL and SIGTERM, resolves once it exited. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
  }

  async close(): Promise<void> {
    await this.signal('SIGCONT');
    await this.signal('SIGKILL');
  }
}

export interface FaultWorld {
  readonly node: NodeProcess;
  readonly catalogueUrl: string;
  readonly dir: string;
  /** Who `user://b.example/<name>` is, with tokens from b.example. */
  identity(name: string): RuntimeIdentity;
  /** A runtime for `user://b.example/<name>`, closed with the world. */
  runtime(name: string, options?: Partial<NodeRuntimeOptions>): NodeRuntime;
  /** Publishes `pluginDir` as `version` of b.example's json-ws, for the same node. */
  release(pluginDir: string, version: string): Promise<void>;
  close(): Promise<void>;
}

export async function faultWorld(): Promise<FaultWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-faults-'));
  const log = pino({ level: 'silent' });
  const d: PreparedDomain = await prepareDomain({ domain: DOMAIN, dataDir: join(dir, DOMAIN) }, { log });
  const catalogue = await startCatalogue(d);
  const port = await freePort();
  const node = new NodeProcess(`ws://127.0.0.1:${port}`, port, join(d.dataDir, 'keys', `${DOMAIN}.key`));
  await node.start();
  await publishStubs(d, node.url);
  const identity = new StaticIdentity({ domain: DOMAIN, key: d.key, users: new Map() });
  const runtimes: NodeRuntime[] = [];
  const identityOf = (name: string): RuntimeIdentity => {
    const address = `user://${DOMAIN}/${name}`;
    return { address, token: (audience) => identity.issue(address, 600, audience) };
  };
  return {
    node,
    catalogueUrl: catalogue.url,
    dir,
    identity: identityOf,
    runtime(name, options = {}) {
      const rt = createNodeRuntime({
        policy: developmentPolicy,
        // Each test makes b.example anew, with a new key: trust is kept per runtime, in memory.
        dataDir: false,
        identity: identityOf(name),
        catalogues: { [DOMAIN]: catalogue.url },
        // Quick reconnects: the suite is about what survives a fault, not about waiting it out.
        stubConfig: { [DOMAIN]: { reconnectDelayMs: 50, reconnectDelayMaxMs: 200 } },
        watch: { retryMs: 50, maxRetryMs: 200, pollMs: 100 },
        ...options,
      });
      runtimes.push(rt);
      return rt;
    },
    async release(pluginDir, version) {
      await publish({
        pluginDir,
        key: d.key,
        out: d.catalogueDir,
        version,
        deployment: { endpoints: [`${node.url}/`], defaults: { url: node.url } },
      });
    },
    async close() {
      await Promise.allSettled(runtimes.map((r) => r.close()));
      await node.close();
      await catalogue.server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
