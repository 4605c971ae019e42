import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Message, request, response } from '../../core/message.js';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/xmpp-ws/index.js';
import { PASSWORDS, type Prosody, startProsody, XMPP_DOMAIN } from '../support/prosody.js';
import { FAST } from '../support/sip-world.js';
import { type CuttableProxy, cuttableProxy } from './cuttable-proxy.js';
import { type FarSide, farSide } from './far-side.js';

/**
 * XEP-0198 against a real Prosody (mod_smacks): the stub (in the test process) reaches Prosody
 * through a proxy the test can black-hole and cut, and Erin is @xmpp/client, which keeps every
 * copy it gets. Whether the stream is resumed or resumption fails (Prosody restarted), every
 * chat is acknowledged by its receipt, and none arrives twice, either way.
 */

const DIR = join(import.meta.dirname, '../../plugins/stubs/xmpp-ws');
const DEFAULTS = JSON.parse(readFileSync(join(DIR, 'protofly.json'), 'utf8')).configuration.defaults;
const ERIN = `user://${XMPP_DOMAIN}/erin`;

let prosody: Prosody;
let proxy: CuttableProxy;
let erin: FarSide | undefined;

beforeAll(async () => {
  prosody = await startProsody({ domain: XMPP_DOMAIN, users: PASSWORDS });
  proxy = await cuttableProxy(Number(new URL(prosody.wsUrl).port));
});
afterEach(async () => {
  await erin?.stop();
  erin = undefined;
  // What the proxy heard is each test's own: an earlier test's `<a h/>` or `<failed/>` proves nothing.
  proxy.forget();
});
afterAll(async () => {
  await proxy?.close();
  await prosody?.stop();
});

/** Alice's stub (or `user`'s, configured with `config` besides), in a conversation with Erin, through the proxy; live. */
async function alice(user = 'alice', config: Record<string, unknown> = {}) {
  const address = `user://${XMPP_DOMAIN}/${user}`;
  const ctx = new DirectContext({
    address,
    domain: XMPP_DOMAIN,
    config: { ...DEFAULTS, url: proxy.url(prosody.wsUrl), password: PASSWORDS[user], ...FAST, ...config },
    session: new DirectSession(),
    peer: ERIN,
    from: [ERIN],
  });
  const stub = await activate(ctx);
  await ctx.until(() => ctx.statuses.includes('live'));
  const chats = (texts: readonly string[]) =>
    texts.map((text) => {
      const msg = request('create', address, ERIN, { value: { kind: 'chat', text } });
      stub.postMessage(msg);
      return msg;
    });
  const answered = (sent: readonly Message[], timeoutMs?: number) =>
    ctx.until(
      () => sent.every((m) => ctx.received.some((r) => r.type === 'response' && r.id === m.id)),
      timeoutMs,
    );
  const codes = (sent: readonly Message[]) =>
    sent.map((m) =>
      ctx.received
        .filter((r) => r.type === 'response' && r.id === m.id)
        .map((r) => (r.body as { code: number }).code),
    );
  const creates = () => ctx.received.filter((m) => m.type === 'create');
  /** Answers 200 (the runtime's part) every chat handed over, once `n` came. */
  const take = async (n: number) => {
    await ctx.until(() => creates().length >= n);
    for (const m of creates()) stub.postMessage(response(m, 200));
  };
  const stop = async () => {
    await stub.stop();
    ctx.end();
  };
  return { ctx, chats, answered, codes, creates, take, stop };
}

const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
/** How many times each id came, of those that did not come exactly once. */
function copies(ids: readonly (string | undefined)[]): [string | undefined, number][] {
  const counts = new Map<string | undefined, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts].filter(([, n]) => n !== 1);
}

describe('xmpp-ws stream management (XEP-0198) with Prosody', () => {
  it('a dropped connection is resumed: what the server had not acknowledged goes again, both ways, once', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!);
    erin = far;
    const a = await alice();
    const before = a.chats(texts('before', 5));
    await a.answered(before);
    // The link dies: what either end sends now is lost, and nobody knows yet.
    proxy.blackhole();
    const lost = a.chats(texts('lost', 5));
    const toAlice = texts('to alice', 3).map((t, i) => far.chat('alice@x.example', t, `erin-${i}`));
    // Prosody sent them to Alice (into the black hole): unacknowledged by her, it holds them.
    await proxy.hears('to alice 2');
    proxy.cut();
    // The stub resumes (XEP-0198 §5): Prosody hands over what Alice had not acknowledged, and
    // takes again what it had not.
    await proxy.hears('<resumed ');
    await a.take(3);
    await Promise.all(toAlice);
    await a.answered(lost);
    expect(a.codes([...before, ...lost])).toEqual(Array(10).fill([200]));
    expect(a.ctx.statuses).toEqual(['connecting', 'live', 'disconnected', 'live']);
    expect(far.chats.map((c) => c.text)).toEqual([...texts('before', 5), ...texts('lost', 5)]);
    expect(copies(far.chats.map((c) => c.id))).toEqual([]);
    expect(a.creates().map((m) => (m.body as { value: { text: string } }).value.text)).toEqual(
      texts('to alice', 3),
    );
    await a.stop();
  });

  it('a chat the server acknowledged is not sent again on a new stream: its receipt, lost with the old one, comes from storage', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!, false);
    erin = far;
    // Bob, whom no earlier test left anything in offline storage: he writes his presence and this chat, nothing else.
    const a = await alice('bob');
    const [held] = a.chats(['held by the server']);
    await far.next((s) => s.is('message') && s.getChildText('body') === 'held by the server');
    // His initial presence and this chat: the server handled both (XEP-0198 counts stanzas).
    // (Attributes in any order: Prosody writes them in its Lua table's, which changes per run;
    // waiting for `<a h='2'` hung whenever it wrote the xmlns first.)
    await proxy.hears(/<a [^>]*h='2'/);
    proxy.blackhole();
    // Erin's receipt goes into the black hole; Prosody keeps it unacknowledged by Alice. The
    // restart waits until Prosody wrote it, or it might stop before it read it from Erin.
    await far.send(
      xml(
        'message',
        { to: far.chats[0]!.from },
        xml('received', { xmlns: 'urn:xmpp:receipts', id: held!.id }),
      ),
    );
    await proxy.hears(new RegExp(`<received [^>]*id='${held!.id}'`));
    await prosody.restart();
    await proxy.hears('<failed ');
    // Resumption failed; the new stream does not carry the chat again, and the receipt comes from offline storage.
    await a.answered([held!], 30_000);
    expect(a.codes([held!])).toEqual([[200]]);
    expect(far.chats.map((c) => c.text)).toEqual(['held by the server']);
    await a.stop();
  });

  it('a chat the server acknowledged whose receipt never comes is answered 504 once receiptTimeoutMs passed, and not sent again', async () => {
    // Erin gives no receipts, as many XMPP clients do not. (A real clock: Erin's library, in
    // this process, runs on timers too, and a fake clock stalls it.)
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!, false);
    erin = far;
    const a = await alice('alice', { receiptTimeoutMs: 500 });
    const [chat] = a.chats(['no receipt for this']);
    await far.next((s) => s.is('message') && s.getChildText('body') === 'no receipt for this');
    await a.answered([chat!]);
    expect(a.codes([chat!])).toEqual([[504]]);
    expect(a.ctx.received.find((r) => r.id === chat!.id)!.body).toMatchObject({
      description: 'the XMPP server took it, and no receipt came within 500 ms',
    });
    expect(far.chats.map((c) => c.text)).toEqual(['no receipt for this']);
    await a.stop();
  });

  it('resumption fails (Prosody restarted): the new stream carries what the server had not acknowledged, and nothing twice', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!);
    erin = far;
    const a = await alice();
    const before = a.chats(texts('first', 5));
    await a.answered(before);
    proxy.blackhole();
    const lost = a.chats(texts('unheard', 5));
    await prosody.restart();
    // Prosody kept how much of the old session it handled, and says so in its refusal (XEP-0198 §5).
    await proxy.hears('<failed ');
    // Erin's library reconnects on its own clock, and gets what came meanwhile from offline storage.
    await a.answered(lost, 30_000);
    expect(a.codes([...before, ...lost])).toEqual(Array(10).fill([200]));
    expect(proxy.heard()).toMatch(/<failed [^>]*h=['"]\d+['"]/);
    await far.next((s) => s.is('message') && s.getChildText('body') === 'unheard 4');
    expect(far.chats.map((c) => c.text)).toEqual([...texts('first', 5), ...texts('unheard', 5)]);
    expect(copies(far.chats.map((c) => c.id))).toEqual([]);
    await a.stop();
  });
});
