import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { developmentPolicy } from '../../runtime/policy.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { XMPP_DOMAIN } from '../support/prosody.js';
import { nextConversation, nextMessage } from '../support/sip-world.js';
import { startXmppWorld, type XmppWorld } from '../support/xmpp-world.js';

/**
 * A protofly runtime (the xmpp-ws stub verified from x.example's catalogue and run in the
 * sandbox: a worker, SES, WebCrypto through the compartment's crypto.subtle) and @xmpp/client
 * (a third-party XMPP library over RFC 7395), through a real Prosody.
 */

const ALICE = `user://${XMPP_DOMAIN}/alice`;
const ERIN = `user://${XMPP_DOMAIN}/erin`;

let world: XmppWorld;
let host: NodeWorkerHost;

beforeAll(async () => {
  world = await startXmppWorld();
  host = new NodeWorkerHost({ policy: developmentPolicy });
  await host.ready();
});
afterAll(async () => {
  await world?.close();
  await host?.terminate();
});

describe('protofly runtime and @xmpp/client through Prosody', () => {
  it('chat both ways, each acknowledged by a receipt', async () => {
    const erin = await world.xmppUser('erin');
    const alice = world.runtime(ALICE, host);
    await alice.runtime.register();
    const withErin = await alice.runtime.conversation(ERIN, { capabilities: ['chat'] });
    expect(withErin.carrier).toMatchObject({ domain: XMPP_DOMAIN, name: 'xmpp-ws', protocol: 'xmpp-ws' });
    // The 200 is erin's receipt: @xmpp/client's user gives one for what asks.
    const ok = await withErin.send('hello Erin, over XMPP');
    expect(ok.body.code).toBe(200);
    expect(erin.chats).toEqual([
      {
        from: expect.stringMatching(/^alice@x\.example\/protofly\./),
        id: ok.id,
        text: 'hello Erin, over XMPP',
      },
    ]);
    // Erin's chat reaches Alice's conversation with her, and its receipt comes back to Erin.
    const reply = nextMessage(withErin);
    await erin.send('alice@x.example', 'hello Alice <3', 'erin-1');
    expect((await reply).body).toEqual({ kind: 'chat', text: 'hello Alice <3' });
    await erin.stop();
    await alice.close();
  });

  it('presence both ways: directed presence from the runtime, and to it', async () => {
    const erin = await world.xmppUser('erin');
    const alice = world.runtime(ALICE, host);
    await alice.runtime.register();
    const withErin = await alice.runtime.conversation(ERIN);
    const ok = await withErin.post({ kind: 'presence', status: 'away', note: 'lunch' });
    expect(ok.body.code).toBe(200);
    await erin.presenced('alice@x.example');
    expect(erin.presences.filter((p) => p.from.startsWith('alice@'))).toEqual([
      { from: expect.stringMatching(/^alice@x\.example\//), show: 'away' },
    ]);
    const got = nextMessage(withErin);
    await erin.presence('alice@x.example', 'dnd', 'in a meeting');
    expect((await got).body).toEqual({ kind: 'presence', status: 'busy', note: 'in a meeting' });
    await erin.stop();
    await alice.close();
  });

  it('a chat from @xmpp/client opens a conversation in a registered runtime', async () => {
    const erin = await world.xmppUser('erin');
    const alice = world.runtime(ALICE, host);
    await alice.runtime.register();
    const incoming = nextConversation(alice);
    await erin.send('alice@x.example', 'are you there?', 'erin-2');
    const c = await incoming;
    expect(c.peer).toBe(ERIN);
    await erin.stop();
    await alice.close();
  });

  it('Prosody restarts while chats flow: every chat acknowledged reached Erin, and chats flow both ways after', async () => {
    const erin = await world.xmppUser('erin');
    const alice = world.runtime(ALICE, host);
    await alice.runtime.register();
    const withErin = await alice.runtime.conversation(ERIN);
    const statuses: string[] = [];
    // Back once live again after the connection was lost; Erin's library reconnects by itself.
    const back = new Promise<void>((resolve) =>
      withErin.on('status', (s) => {
        statuses.push(s);
        if (s === 'live' && statuses.includes('disconnected')) resolve();
      }),
    );
    const erinBack = erin.online();
    const sends = Array.from({ length: 10 }, (_, i) => withErin.send(`before ${i}`));
    const restart = world.prosody.restart();
    sends.push(...Array.from({ length: 10 }, (_, i) => withErin.send(`during ${i}`)));
    await restart;
    const results = await Promise.allSettled(sends);
    const acknowledged = results.flatMap((r) =>
      r.status === 'fulfilled' && r.value.body.code === 200 ? [r.value.id] : [],
    );
    // Nothing is answered but by a receipt, and the stub resends what has none: all of them come.
    expect(acknowledged).toHaveLength(20);
    const got = new Set(erin.chats.map((c) => c.id));
    expect(acknowledged.filter((id) => !got.has(id))).toEqual([]);
    await Promise.all([back, erinBack]);
    const reply = nextMessage(withErin);
    await erin.send('alice@x.example', 'after the restart', 'erin-3');
    expect((await reply).body).toEqual({ kind: 'chat', text: 'after the restart' });
    await erin.stop();
    await alice.close();
  });
});
