import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationContext, SandboxHost, StubHandle } from '../core/host.js';
import { MemoryStore } from '../core/store.js';
import { CatalogueClient, EVENTS_PATH } from '../runtime/catalogue.js';
import { Loader } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { Runtime } from '../runtime/runtime.js';
import { TrustStore } from '../runtime/trust.js';
import { eventually } from './support/conversation.js';
import { type Domains, startDomains } from './support/domains.js';

/**
 * When a runtime starts watching a carrier domain's catalogue for new versions: once its stub
 * is live (or retrying), not while the load that brought it is still connecting, where the
 * update stream's connection and the check that follows it would compete with that load.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

/** A host whose one stub reports what the test says, when it says. */
function scriptedHost(): { host: SandboxHost; started: Promise<ConversationContext> } {
  let started: (ctx: ConversationContext) => void = () => {};
  const host: SandboxHost = {
    async instantiate(pkg, ctx): Promise<StubHandle> {
      ctx.delegate?.onStatus?.('connecting', undefined);
      started(ctx);
      return {
        id: `${pkg.descriptor.name}→${BOB}`,
        status: 'connecting',
        postMessage() {},
        async stop() {
          ctx.delegate?.onStatus?.('stopped', undefined);
        },
        snapshot: async () => undefined,
      };
    },
    prepare: async () => {},
    unload() {},
    ready: async () => {},
    terminate: async () => {},
  };
  return {
    host,
    started: new Promise((resolve) => {
      started = resolve;
    }),
  };
}

let domains: Domains | undefined;
let runtime: Runtime | undefined;

afterEach(async () => {
  await runtime?.close();
  await domains?.close();
  runtime = undefined;
  domains = undefined;
});

describe("a carrier domain's update stream", () => {
  it('is asked for once the stub is live, not while it connects', async () => {
    domains = await startDomains(['b.example']);
    const b = domains.byName.get('b.example')!;
    const asked: string[] = [];
    const catalogue = new CatalogueClient({
      catalogues: domains.catalogues,
      fetch: (input, init) => {
        asked.push(new URL(String(input)).pathname);
        return fetch(input, init);
      },
    });
    const loader = new Loader({
      trust: new TrustStore({ mode: 'pinned', pinned: { 'b.example': [b.key.publicJwk] } }),
      store: new MemoryStore(),
      catalogue,
      policy: developmentPolicy,
    });
    const { host, started } = scriptedHost();
    runtime = new Runtime({ identity: { address: ALICE, token: async () => 'token' }, loader, host });
    const conversation = runtime.conversation(BOB);

    const ctx = await started;
    // The descriptor and the package, and nothing of the update stream while it connects.
    expect(asked.length).toBeGreaterThan(0);
    expect(asked).not.toContain(EVENTS_PATH);

    ctx.delegate?.onStatus?.('live', undefined);
    await conversation;
    await eventually(() => asked.includes(EVENTS_PATH), 'the update stream asked for');
  });
});
