import { describe, expect, it } from 'vitest';
import type { CheckEvent } from '../../runtime/loader.js';
import type { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { sdp } from '../../server/sip-client/sdp-peer-connection.js';
import {
  nextConversation,
  nextMessage,
  type SipWorld,
  sipWorldForFile,
  startSipWorld,
} from '../support/sip-world.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const DAVE = 'user://c.example/dave';

let world: SipWorld;
let host: NodeWorkerHost;
sipWorldForFile(
  () => startSipWorld({ dave: 'dave-pw' }, ['a.example', 'b.example']),
  (w, h) => {
    world = w;
    host = h;
  },
);

describe('one runtime, two protocols', () => {
  it('Alice of a.example chats with Bob over json-ws and, as a guest of c.example, with Dave over SIP', async () => {
    const bob = world.runtime(BOB, { host });
    await bob.runtime.register();
    const bobHears = nextConversation(bob);
    const dave = await world.jssip('dave');

    const checks: CheckEvent[] = [];
    const alice = world.runtime(ALICE, { host, onCheck: (e) => checks.push(e) });
    const [withBob, withDave] = await Promise.all([
      alice.runtime.conversation(BOB, { capabilities: ['chat'] }),
      alice.runtime.conversation(DAVE, { capabilities: ['chat', 'call'] }),
    ]);
    // c.example's stub came from c.example's catalogue, verified like any other.
    expect(withBob.carrier).toMatchObject({ domain: 'b.example', name: 'json-ws' });
    expect(withDave.carrier).toMatchObject({ domain: 'c.example', name: 'sip-ws', protocol: 'sip-ws' });
    const cChecks = checks.filter((e) => e.url.startsWith(world.sip.catalogueUrl)).map((e) => e.check);
    expect(cChecks).toEqual(expect.arrayContaining(['schema', 'signature', 'integrity']));

    await Promise.all([withBob.send('hi Bob, json-ws'), withDave.send('hi Dave, SIP')]);
    const fromAlice = await dave.nextMessage();
    expect(fromAlice).toEqual({
      from: 'sip:alice~a.example@c.example',
      displayName: 'alice@a.example',
      body: 'hi Dave, SIP',
      contentType: 'text/plain;charset=UTF-8',
    });
    const withAlice = await bobHears;
    expect((await nextMessage(withAlice)).body).toEqual({ kind: 'chat', text: 'hi Bob, json-ws' });

    // Dave answers the AOR he saw; Bob answers on his side; both reach the one runtime.
    const daveSays = nextMessage(withDave);
    const bobSays = nextMessage(withBob);
    expect(await dave.send(fromAlice.from, 'hi Alice, from Kamailio')).toBe(200);
    await withAlice.send('hi Alice, from b.example');
    expect((await daveSays).body).toEqual({ kind: 'chat', text: 'hi Alice, from Kamailio' });
    expect((await daveSays).from).toBe(DAVE);
    expect((await bobSays).body).toEqual({ kind: 'chat', text: 'hi Alice, from b.example' });

    // A call with Dave in the same runtime: in-dialog requests (ACK, BYE) reach the guest too.
    const inbox = withDave[Symbol.asyncIterator]();
    const callId = await withDave.call(sdp('alice'), ['audio']);
    const session = await dave.nextCall();
    expect((await inbox.next()).value.body).toMatchObject({ kind: 'progress', callId, code: 180 });
    const confirmed = new Promise((resolve) => session.once('confirmed', resolve));
    dave.answer(session);
    expect((await inbox.next()).value.body).toMatchObject({ kind: 'answer', callId });
    await confirmed;
    session.terminate();
    expect((await inbox.next()).value.body).toEqual({ kind: 'bye', callId });
  });

  it('a guest registers again after Kamailio restarts (its guest password went with it) and the conversation goes on', async () => {
    const dave = await world.jssip('dave');
    const alice = world.runtime(ALICE, { host });
    const withDave = await alice.runtime.conversation(DAVE);
    const statuses: string[] = [];
    const live = new Promise<void>((resolve) =>
      withDave.on('status', (s) => {
        statuses.push(s);
        if (s === 'live') resolve();
      }),
    );
    const daveBack = new Promise((resolve) => dave.ua.once('registered', resolve));
    await world.kamailio.restart();
    await live;
    expect(statuses).toEqual(['disconnected', 'connecting', 'live']);
    await daveBack;
    await withDave.send('still here');
    expect((await dave.nextMessage()).body).toBe('still here');
  });
});
