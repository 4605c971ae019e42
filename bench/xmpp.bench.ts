import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { type Message, request, response } from '../core/message.js';
import type { Stub } from '../core/stub.js';
import activate from '../plugins/stubs/xmpp-ws/index.js';
import { DirectContext, DirectSession } from '../sandbox/node/direct-context.js';
import { generateDomainKey } from '../server/catalogue/keys.js';
import { type Prosody, startProsody } from '../server/prosody.js';
import { startXmppDomain, XMPP_WS_STUB } from '../server/xmpp-domain.js';
import { XMPP_DOMAIN } from '../test/support/prosody.js';
import { startXmppUser } from '../test/support/xmpp-world.js';
import { alternate, type BenchOptions, inFlight, type Result, result } from './harness.js';
import { runtimePair } from './runtime-pair.js';

/**
 * Chat messages through a real Prosody over WebSocket (RFC 7395), one Node process driving both
 * ends, each chat counted once its XEP-0184 receipt came back, against @xmpp/client (a
 * third-party XMPP library) doing the same through the same Prosody in the same run:
 *
 * - the xmpp-ws stub at both ends, on direct contexts (the far one answers 200 at once, which
 *   its stub sends back as the receipt);
 * - the whole product path: two runtimes, each with the stub verified from x.example's
 *   catalogue (server/xmpp-domain.ts) in a worker sandbox; the far runtime answers once its
 *   conversation took the chat.
 *
 * `WINDOW` chats in flight. Prosody is one Lua process: its share of the two cores is part of
 * every figure, the baseline's too.
 */

const WINDOW = 50;
const TEXT = 'a chat message of about the usual size, carried by XMPP <message>';
const USERS = { carol: 'pw', dave: 'pw', erin: 'pw', frank: 'pw' };
const DEFAULTS = JSON.parse(readFileSync(join(XMPP_WS_STUB, 'protofly.json'), 'utf8')).configuration
  .defaults as Record<string, unknown>;
const address = (user: string) => `user://${XMPP_DOMAIN}/${user}`;

/** Sends `n` chats with `WINDOW` in flight; resolves with chats per second. */
const rate = (n: number, send: () => Promise<unknown>) => inFlight(n, WINDOW, send);

/** The xmpp-ws stub on a direct context that answers every chat it delivers with 200, as a runtime would. */
async function stubFor(prosody: Prosody, user: string, peer?: string) {
  const waiting = new Map<string, () => void>();
  let stub: Stub | undefined;
  const ctx = new (class extends DirectContext {
    override send(msg: Message): void {
      if (msg.type === 'response') waiting.get(msg.id)?.();
      else stub?.postMessage(response(msg, 200));
    }
  })({
    address: address(user),
    domain: XMPP_DOMAIN,
    config: { ...DEFAULTS, url: prosody.wsUrl, password: 'pw' },
    session: new DirectSession(),
    ...(peer ? { peer: address(peer) } : {}),
  });
  stub = await activate(ctx);
  await ctx.until(() => ctx.statuses.at(-1) === 'live');
  return {
    /** Sends a chat to `peer` and resolves on its response (the receipt). */
    chat: () =>
      new Promise<void>((resolve) => {
        const m = request('create', ctx.identity.address, address(peer!), {
          value: { kind: 'chat', text: TEXT },
        });
        waiting.set(m.id, () => {
          waiting.delete(m.id);
          resolve();
        });
        stub!.postMessage(m);
      }),
    close: async () => {
      await stub!.stop();
      ctx.end();
    },
  };
}

export default async function xmppBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 500 : 3000;
  // @xmpp/client opens `new WebSocket(url, 'xmpp')` on the global, which Node 20 lacks (PEERS.md).
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const prosody = await startProsody({ domain: XMPP_DOMAIN, users: USERS });
  const results: Result[] = [];
  try {
    const erin = await startXmppUser(prosody.wsUrl, 'erin', 'pw');
    const frank = await startXmppUser(prosody.wsUrl, 'frank', 'pw');
    let next = 0;
    const theirChat = () => erin.send(frank.jid, TEXT, `b${next++}`);

    const carol = await stubFor(prosody, 'carol', 'dave');
    const dave = await stubFor(prosody, 'dave');
    const [ours, theirs] = await alternate(
      rounds,
      () => rate(n, carol.chat),
      () => rate(n, theirChat),
    );
    results.push(
      result(`chat through Prosody, xmpp-ws stub at both ends, ${WINDOW} in flight`, 'msg/s', ours, theirs),
    );
    await Promise.all([carol.close(), dave.close()]);

    // The product path: runtimes with the stub verified from x.example's catalogue, in a worker sandbox.
    const dir = await mkdtemp(join(tmpdir(), 'pf-bench-xmpp-'));
    const xmpp = await startXmppDomain({
      domain: XMPP_DOMAIN,
      key: await generateDomainKey(XMPP_DOMAIN, join(dir, 'keys')),
      dataDir: dir,
      xmppUrl: prosody.wsUrl,
      accountsDir: prosody.accountsDir,
    });
    const [product, theirsAgain] = await runtimePair({
      domain: XMPP_DOMAIN,
      catalogueUrl: xmpp.catalogueUrl,
      stubConfig: { password: 'pw' },
      rounds,
      n,
      window: WINDOW,
      text: TEXT,
      theirs: theirChat,
    });
    results.push(
      result(
        `chat through Prosody, runtime + sandbox + xmpp-ws at both ends, ${WINDOW} in flight`,
        'msg/s',
        product,
        theirsAgain,
      ),
    );
    await xmpp.close();
    await rm(dir, { recursive: true, force: true });
    await Promise.all([erin.stop(), frank.stop()]);
  } finally {
    await prosody.stop();
  }
  return results;
}
