import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StaticIdentity } from '../../plugins/backends/identity-static/static-identity.js';
import type { Conversation, Incoming } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import type { InboxEvent, Runtime, RuntimeIdentity } from '../../runtime/runtime.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { generateDomainKey } from '../../server/catalogue/keys.js';
import { DOMAIN, type FaultWorld, faultWorld } from './world.js';

/**
 * The inbox after its carrier is lost (issue #23): the messaging node is killed and comes back
 * admitting only tokens of a rotated key, so the inbox stub's reconnect with the token it was
 * activated with is refused for good (4401) and the stub fails. The runtime registers the inbox
 * again by itself, with a fresh token from the home domain, and peers reach the user again.
 */

const BOB = 'user://b.example/bob';
/** The stub logs the refusal this case causes on purpose; the assertions look at events. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** A node restart and two runtimes' worker sandboxes, on a machine that may be loaded. */
const CASE_MS = 120_000;

let world: FaultWorld | undefined;
let host: NodeWorkerHost | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
  await host?.terminate();
  host = undefined;
}, 60_000);

/** Resolves with the first `inbox` event of `rt` in `state`. */
function inbox(rt: Runtime, state: InboxEvent['state']): Promise<InboxEvent> {
  return new Promise((resolve) => {
    const off = rt.on('inbox', (e) => {
      if (e.state !== state) return;
      off();
      resolve(e);
    });
  });
}

describe('the inbox after its carrier is lost', () => {
  it(
    'is registered again, with back-off and a fresh token, once the node came back refusing the old one',
    async () => {
      const w = await faultWorld();
      world = w;
      const rotated = await generateDomainKey(DOMAIN, join(w.dir, 'rotated'));
      const issuer = new StaticIdentity({ domain: DOMAIN, key: rotated, users: new Map() });
      let rotatedYet = false;
      /** Tokens of the domain's key until the node restarts with the rotated one, then of that. */
      const identity = (name: string): RuntimeIdentity => {
        const before = w.identity(name);
        return {
          address: before.address,
          token: (audience) =>
            rotatedYet ? issuer.issue(before.address, 600, audience) : before.token!(audience),
        };
      };
      // A loaded machine stalls the host for seconds; the watchdog is not what this case tests.
      host = new NodeWorkerHost({ policy: developmentPolicy, log: quiet, watchdogMs: 15_000 });
      const bob = w.runtime('bob', { identity: identity('bob'), host });
      await bob.runtime.register();
      const lost = inbox(bob.runtime, 'lost');
      const restored = inbox(bob.runtime, 'restored');

      await w.node.signal('SIGKILL');
      rotatedYet = true;
      await w.node.start(rotated.files[0]);

      // The stub's own reconnect is refused: it fails, and the inbox with it.
      const gone = await lost;
      expect(gone.error?.message).toMatch(/4401/);
      // Registered again after the first back-off delay, with a token the node takes.
      expect(await restored).toEqual({ domain: DOMAIN, state: 'restored', attempt: 1 });

      const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
      const alice = w.runtime('alice', { identity: identity('alice') });
      const withBob = await alice.runtime.conversation(BOB);
      await withBob.send('after the restart');
      const withAlice = await incoming;
      const first = await new Promise<Incoming>((resolve) => withAlice.on('message', resolve));
      expect(first.body).toMatchObject({ kind: 'chat', text: 'after the restart' });
    },
    CASE_MS,
  );
});
