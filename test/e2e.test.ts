import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation, Incoming } from '../core/conversation.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { type Domains, startDomains } from './support/domains.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

/** The next message a conversation receives. */
function next(c: Conversation): Promise<Incoming> {
  return new Promise((resolve) => {
    const off = c.on('message', (m) => {
      off();
      resolve(m);
    });
  });
}

let domains: Domains;
let host: NodeWorkerHost;

beforeAll(async () => {
  domains = await startDomains(['a.example', 'b.example']);
  host = new NodeWorkerHost();
  await host.ready();
});
afterAll(async () => {
  await domains?.close();
  await host?.terminate();
});

describe('signaling on the fly', () => {
  it('Alice loads b.example’s stub on the fly and chats and calls with Bob', async () => {
    const bob = domains.runtime(BOB, { host });
    await bob.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));

    const alice = domains.runtime(ALICE, { host });
    const withBob = await alice.runtime.conversation(BOB, { capabilities: ['chat', 'call'] });
    expect(withBob.carrier).toMatchObject({ domain: 'b.example', name: 'json-ws', protocol: 'json-ws' });
    expect(withBob.status).toBe('live');

    const ack = await withBob.send('Hi Bob');
    expect(ack.body.code).toBe(200);
    const withAlice = await incoming;
    expect(withAlice.peer).toBe(ALICE);
    expect(withAlice.incoming).toBe(true);
    // The first message may have been delivered before we listened: read it from the iterator.
    const first = await withAlice[Symbol.asyncIterator]().next();
    expect(first.value?.body).toEqual({ kind: 'chat', text: 'Hi Bob' });

    const reply = next(withBob);
    await withAlice.send('Hi Alice');
    expect((await reply).body).toEqual({ kind: 'chat', text: 'Hi Alice' });

    const offer = next(withAlice);
    const callId = await withBob.call('v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\n', ['audio']);
    expect((await offer).body).toMatchObject({ kind: 'offer', callId, media: ['audio'] });
    const answer = next(withBob);
    await withAlice.answer(callId, 'v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\n');
    expect((await answer).body).toMatchObject({ kind: 'answer', callId });
    await withBob.bye(callId);
  });
});
