import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxHost } from '../core/host.js';
import { developmentPolicy } from '../runtime/policy.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { releaseStub } from '../server/release.js';
import { type Domains, startDomains } from './support/domains.js';

/**
 * The runtime's bound on going live (core/stub.ts, `live`): a stub that says neither `live` nor
 * `failed` does not hang register() or conversation(). Real domains, the worker sandbox, and
 * b.example publishing a release that activates and stays `connecting` for ever.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
/** The runtime's bound here: short, as the stub never goes live whatever the machine's load. */
const LIVE_MS = 300;

let domains: Domains;
let host: NodeWorkerHost;

beforeAll(async () => {
  domains = await startDomains(['a.example', 'b.example']);
  await releaseStub(domains.byName.get('b.example')!, {
    pluginDir: join(import.meta.dirname, 'stubs', 'never-live'),
    version: '0.2.0',
  });
  host = new NodeWorkerHost({ policy: developmentPolicy });
  await host.ready();
});
afterAll(async () => {
  await domains?.close();
  await host?.terminate();
});

describe('a stub that never goes live', () => {
  it('is given up by register() after liveTimeoutMs, with PF_ERR_TIMEOUT naming the stub and its last status', async () => {
    const bob = domains.runtime(BOB, { host, liveTimeoutMs: LIVE_MS });
    const told: string[] = [];
    bob.runtime.on('error', (err) => told.push(err.code));
    bob.runtime.on('inbox', (e) => told.push(e.state));
    const registering = bob.runtime.register();
    await expect(registering).rejects.toMatchObject({
      code: 'PF_ERR_TIMEOUT',
      detail: { timeoutMs: LIVE_MS },
    });
    await expect(registering).rejects.toThrow(
      /^PF_ERR_TIMEOUT: the stub b\.example\/json-ws@0\.2\.0 for the inbox was not live \(reachable at b\.example\) within 300 ms; last status connecting$/,
    );
    expect(told).toEqual([]);
    // Its instance was stopped: asked again, the runtime starts another, and gives it up again.
    await expect(bob.runtime.register()).rejects.toMatchObject({ code: 'PF_ERR_TIMEOUT' });
  });

  it('is given up when the runtime closes meanwhile: register() rejects with PF_ERR_CLOSED, not at its time-out', async () => {
    let activated!: () => void;
    const running = new Promise<void>((resolve) => {
      activated = resolve;
    });
    // The worker host, telling when the inbox's stub has been activated (it then waits to go live).
    const watched: SandboxHost = {
      instantiate: (pkg, ctx) =>
        host.instantiate(pkg, ctx).then((handle) => {
          activated();
          return handle;
        }),
      prepare: (pkg) => host.prepare(pkg),
      unload: (pkg) => host.unload(pkg),
      ready: () => host.ready(),
      terminate: async () => {},
    };
    const bob = domains.runtime(BOB, { host: watched, liveTimeoutMs: 600_000 });
    const registering = bob.runtime.register();
    await running;
    await bob.runtime.close();
    await expect(registering).rejects.toMatchObject({ code: 'PF_ERR_CLOSED' });
  });

  it('is given up by conversation() after liveTimeoutMs, and the conversation is closed', async () => {
    const alice = domains.runtime(ALICE, { host, liveTimeoutMs: LIVE_MS });
    await expect(alice.runtime.conversation(BOB)).rejects.toMatchObject({
      code: 'PF_ERR_TIMEOUT',
      message: expect.stringMatching(
        /the stub b\.example\/json-ws@0\.2\.0 for user:\/\/b\.example\/bob was not live/,
      ),
    });
    expect(alice.runtime.conversations.size).toBe(0);
  });
});

describe('a stub whose socket the runtime refuses', () => {
  it('fails at once with the runtime’s code, not at liveTimeoutMs: register() rejects with PF_ERR_POLICY naming the URL', async () => {
    // Loopback endpoints admitted (the descriptor loads), plain ws:// refused (the socket is not).
    const strict = new NodeWorkerHost({
      policy: { ...developmentPolicy, endpoints: { addresses: ['loopback'], plainWebSocket: 'never' } },
    });
    try {
      // No bound that a loaded machine could meet first: only the refusal ends register().
      const alice = domains.runtime(ALICE, { host: strict, liveTimeoutMs: 600_000 });
      const err = await alice.runtime.register().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PF_ERR_POLICY', detail: { policy: 'endpoints.plainWebSocket' } });
      expect(String(err)).toContain(domains.byName.get('a.example')!.nodeUrl);
    } finally {
      await strict.terminate();
    }
  });
});
