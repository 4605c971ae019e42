import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { RTCSession } from 'jssip/lib/RTCSession.js';
import { describe, expect, it } from 'vitest';
import type { ConversationContext } from '../../core/host.js';
import type { StubPackage } from '../../core/plugin.js';
import type { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { jssipUser } from '../../server/sip-client/jssip-user.js';
import { sdp } from '../../server/sip-client/sdp-peer-connection.js';
import {
  FAST,
  nextConversation,
  nextMessage,
  type SipWorld,
  sipWorldForFile,
  startSipWorld,
} from '../support/sip-world.js';

/**
 * Issue #17 item 4: a user of another domain is reachable as a guest of a SIP domain while her
 * runtime is registered there (`register({ guestAt })`), by any SIP user who writes or calls
 * first; and no longer once the runtime is gone, closed or vanished.
 */

/**
 * A user of a.example and her AOR and digest username as a guest of c.example (server/sip-guest),
 * and the notice Kamailio logs when her guest account goes. The tests that wait for that notice
 * each have a user of their own: an earlier test's guest going cannot pass for theirs.
 */
function guest(name: string) {
  const username = `${name}~a.example`;
  return {
    address: `user://a.example/${name}`,
    username,
    aor: `sip:${username}@c.example`,
    gone: new RegExp(`guest ${name}~a\\.example gone`),
  };
}
const ALICE = guest('alice');
const DAVE = 'user://c.example/dave';

let world: SipWorld;
let host: NodeWorkerHost;
// usrloc's expiry timer every second: a binding nobody refreshed goes within a second of its expiry.
sipWorldForFile(
  () => startSipWorld({ dave: 'dave-pw' }, ['a.example'], { quickExpiry: true }),
  (w, h) => {
    world = w;
    host = h;
  },
);

/** A guest's password in Kamailio, if it holds one. */
async function guestPassword(username: string): Promise<unknown> {
  try {
    return ((await world.kamailio.rpc('htable.get', ['guests', username])) as { item?: unknown }).item;
  } catch {
    return undefined;
  }
}

/** Resolves with the first of `events` a JsSIP session emits. */
function once(session: RTCSession, event: string): Promise<unknown> {
  return new Promise((resolve) => session.once(event as 'confirmed', resolve));
}

describe('a guest reachable while her runtime is registered', () => {
  it('a SIP user writes first: 480 before register(), then the chat opens a conversation', async () => {
    const dave = await world.jssip('dave');
    expect(await dave.send(ALICE.aor, 'anyone?')).toBe(480);

    const alice = world.runtime(ALICE.address, { host });
    await alice.runtime.register({ guestAt: ['c.example'] });
    const arriving = nextConversation(alice);
    expect(await dave.send(ALICE.aor, 'hello Alice, Dave here')).toBe(200);
    const withDave = await arriving;
    expect(withDave.peer).toBe(DAVE);
    expect(withDave.carrier).toMatchObject({ domain: 'c.example', name: 'sip-ws' });
    expect((await nextMessage(withDave)).body).toEqual({ kind: 'chat', text: 'hello Alice, Dave here' });

    // The reply goes back through the same user agent and registration.
    await withDave.send('hi Dave');
    expect(await dave.nextMessage()).toMatchObject({ from: ALICE.aor, body: 'hi Dave' });
    // The conversation's end leaves the guest inbox registered.
    await withDave.close();
    const again = nextConversation(alice);
    expect(await dave.send(ALICE.aor, 'still there?')).toBe(200);
    expect((await nextMessage(await again)).body).toEqual({ kind: 'chat', text: 'still there?' });
  });

  it('a SIP user calls first: the app gets the offer and answers with its SDP', async () => {
    const dave = await world.jssip('dave');
    const alice = world.runtime(ALICE.address, { host });
    await alice.runtime.register({ guestAt: ['c.example'] });
    const arriving = nextConversation(alice);
    const session = dave.call(ALICE.aor);
    const withDave = await arriving;
    const fromDave = withDave[Symbol.asyncIterator]();
    const offer = (await fromDave.next()).value.body;
    expect(offer).toMatchObject({ kind: 'offer', media: ['audio'] });
    expect(offer.sdp).toContain('o=jssip');
    const confirmed = once(session, 'confirmed');
    await withDave.answer(offer.callId, sdp('alice'));
    await confirmed;
    const remote = (session.connection as unknown as { remoteDescription: { sdp: string } })
      .remoteDescription;
    expect(remote.sdp).toMatch(/^v=0\r\no=alice/);
    session.terminate();
    expect((await fromDave.next()).value.body).toEqual({ kind: 'bye', callId: offer.callId });
  });

  it('a guest inbox opens conversations only for its own domain’s users', async () => {
    // What the runtime lets each inbox send as (the host refuses anything else, sandbox/sender.ts).
    const granted = new Map<string, readonly string[]>();
    const recording = new Proxy(host, {
      get(target, key) {
        if (key === 'instantiate') {
          return (pkg: StubPackage, init: ConversationContext) => {
            if (init.id?.endsWith('→inbox')) granted.set(pkg.descriptor.domain, init.from);
            return target.instantiate(pkg, init);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const alice = world.runtime(ALICE.address, { host: recording });
    await alice.runtime.register({ guestAt: ['c.example'] });
    expect(Object.fromEntries(granted)).toEqual({
      'a.example': ['user://', 'hyperty://'],
      'c.example': ['user://c.example/', 'hyperty://c.example/'],
    });
    let opened = 0;
    alice.runtime.on('conversation', () => opened++);
    // Kamailio relays a request from another domain's user unauthenticated (it vouches for
    // nobody there); the stub does not offer it to the inbox, and answers at once.
    const mallory = await jssipUser(world.kamailio.wsUrl, 'b.example', 'mallory', '', { register: false });
    try {
      expect(await mallory.send(ALICE.aor, 'I am b.example’s, says c.example')).toBe(480);
    } finally {
      await mallory.stop();
    }
    expect(opened).toBe(0);
  });

  it('register() refuses a guestAt that is not a list of domain names', async () => {
    const alice = world.runtime(ALICE.address, { host });
    await expect(alice.runtime.register({ guestAt: ['C.Example'] })).rejects.toMatchObject({
      code: 'PF_ERR_ADDRESS',
    });
    await expect(
      alice.runtime.register({ guestAt: 'c.example' as unknown as string[] }),
    ).rejects.toMatchObject({ code: 'PF_ERR_ADDRESS' });
  });
});

describe('the guest goes with her runtime', () => {
  const ADA = guest('ada');
  const VERA = guest('vera');

  it('closed: the binding and the guest password go at once, and a SIP user gets 480', async () => {
    const dave = await world.jssip('dave');
    const ada = world.runtime(ADA.address, { host });
    await ada.runtime.register({ guestAt: ['c.example'] });
    expect(await guestPassword(ADA.username)).toBeDefined();
    const gone = world.kamailio.logged(ADA.gone);
    await ada.close();
    await gone;
    expect(await guestPassword(ADA.username)).toBeUndefined();
    expect(await dave.send(ADA.aor, 'are you there?')).toBe(480);
  });

  it('vanished without closing (SIGKILL): both go when the registration expires', async () => {
    const dave = await world.jssip('dave');
    // Tokens from a.example, the only thing of Vera's the other process needs from this one.
    const identity = world.runtime(VERA.address, { host }).runtime.identity;
    const tokens = {
      'a.example': await identity.token!('a.example'),
      'c.example': await identity.token!('c.example'),
    };
    const dataDir = await mkdtemp(join(tmpdir(), 'pf-guest-'));
    const child = spawn(
      process.execPath,
      [
        await bundled(),
        JSON.stringify({
          address: VERA.address,
          tokens,
          catalogues: world.catalogues,
          dataDir,
          // The shortest registration the stub asks for (its config's minimum).
          stubConfig: { 'c.example': { ...FAST, registerExpires: 10 } },
          guestAt: ['c.example'],
        }),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('registered\n')) resolve();
        });
        child.stderr!.on('data', (d) => {
          err += d;
        });
        child.once('exit', (code) => reject(new Error(`the runtime exited (${code}): ${err}`)));
      });
      expect(await dave.send(VERA.aor, 'before')).toBe(200);
    } finally {
      child.kill('SIGKILL');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
    // Nothing unregistered it: Kamailio still holds the binding and the password, until the expiry.
    const gone = world.kamailio.logged(VERA.gone);
    const lookup = (await world.kamailio.rpc('ul.lookup', ['location', VERA.username])) as {
      Contacts?: unknown[];
    };
    expect(lookup.Contacts?.length).toBe(1);
    expect(await guestPassword(VERA.username)).toBeDefined();
    await gone;
    expect(await guestPassword(VERA.username)).toBeUndefined();
    expect(await dave.send(VERA.aor, 'after')).toBe(480);
  }, 40_000);
});

/** The other process's script, bundled once (next to node_modules, whose packages it imports). */
let bundle: Promise<string> | undefined;
function bundled(): Promise<string> {
  const outfile = join(import.meta.dirname, '../../node_modules/.cache/protofly-sip/guest-process.mjs');
  bundle ??= build({
    entryPoints: [join(import.meta.dirname, 'guest-process.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  }).then(() => outfile);
  return bundle;
}
