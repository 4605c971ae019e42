import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtoflyError } from '../core/errors.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { developmentPolicy } from '../runtime/policy.js';
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
  host = new NodeWorkerHost({ policy: developmentPolicy });
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
    // Renegotiation and keys: canonical bodies json-ws carries as it carries any.
    const update = next(withAlice);
    await withBob.post({
      kind: 'update',
      callId,
      sdp: 'v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\na=sendonly\r\n',
    });
    expect((await update).body).toMatchObject({ kind: 'update', callId });
    const updated = next(withBob);
    await withAlice.answer(callId, 'v=0\r\no=bob 1 2 IN IP4 127.0.0.1\r\na=recvonly\r\n');
    expect((await updated).body).toMatchObject({ kind: 'answer', callId });
    const keys = next(withAlice);
    await withBob.post({ kind: 'dtmf', callId, digits: '123#', duration: 100 });
    expect((await keys).body).toEqual({ kind: 'dtmf', callId, digits: '123#', duration: 100 });
    await withBob.bye(callId);
  });
});

describe('many domains, restarts and refusals', () => {
  let three: Domains;
  beforeAll(async () => {
    three = await startDomains(['a.example', 'b.example', 'c.example']);
  });
  afterAll(() => three?.close());

  it('one runtime holds conversations with two other domains at once, each through its own domain’s stub', async () => {
    const bob = three.runtime(BOB, { host });
    const carol = three.runtime('user://c.example/carol', { host });
    await Promise.all([bob.runtime.register(), carol.runtime.register()]);
    const bobIn = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
    const carolIn = new Promise<Conversation>((resolve) => carol.runtime.on('conversation', resolve));

    const alice = three.runtime(ALICE, { host });
    const [withBob, withCarol] = await Promise.all([
      alice.runtime.conversation(BOB),
      alice.runtime.conversation('user://c.example/carol'),
    ]);
    expect([withBob.carrier.domain, withCarol.carrier.domain]).toEqual(['b.example', 'c.example']);
    await Promise.all([withBob.send('to Bob'), withCarol.send('to Carol')]);
    const [b, c] = await Promise.all([bobIn, carolIn]);
    expect((await next(b)).body).toEqual({ kind: 'chat', text: 'to Bob' });
    expect((await next(c)).body).toEqual({ kind: 'chat', text: 'to Carol' });
    const fromBoth = [next(withBob), next(withCarol)];
    await Promise.all([b.send('from Bob'), c.send('from Carol')]);
    expect((await Promise.all(fromBoth)).map((m) => m.body)).toEqual([
      { kind: 'chat', text: 'from Bob' },
      { kind: 'chat', text: 'from Carol' },
    ]);
    expect(alice.runtime.conversations.size).toBe(2);
  });

  it('loses and duplicates nothing when the messaging node restarts while 1000 messages are sent', async () => {
    const fast = { reconnectDelayMs: 50, reconnectDelayMaxMs: 200 };
    const dave = three.runtime('user://b.example/dave', { host, stubConfig: { 'b.example': fast } });
    await dave.runtime.register();
    const daveIn = new Promise<Conversation>((resolve) => dave.runtime.on('conversation', resolve));
    const erin = three.runtime('user://a.example/erin', { host, stubConfig: { 'b.example': fast } });
    const withDave = await erin.runtime.conversation('user://b.example/dave');
    await withDave.send('hello');
    const atDave = await daveIn;
    const texts: string[] = [];
    atDave.on('message', (m) => texts.push((m.body as { text: string }).text));
    const statuses: string[] = [];
    withDave.on('status', (s) => statuses.push(s));

    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      sends.push(withDave.send(`m${i}`));
      if (i === 300) sends.push(three.byName.get('b.example')!.restartNode());
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(sends);
    await expect.poll(() => texts.length, { timeout: 15_000 }).toBe(1001);
    expect(texts).toEqual(['hello', ...Array.from({ length: 1000 }, (_, i) => `m${i}`)]);
    expect(statuses).toContain('disconnected');
    expect(withDave.status).toBe('live');
  });

  it('asks the carrier’s token while the stub is verified, not after, and gives it to the stub once verified', async () => {
    const ERIN = 'user://a.example/erin';
    const a = three.byName.get('a.example')!;
    const checks: string[] = [];
    let integrity!: () => void;
    const verified = new Promise<void>((resolve) => {
      integrity = resolve;
    });
    let checksWhenAsked: string[] | undefined;
    const erin = three.runtime(ERIN, {
      host,
      onCheck: ({ check }) => {
        checks.push(check);
        if (check === 'integrity') integrity();
      },
      identity: {
        address: ERIN,
        token: async (audience) => {
          checksWhenAsked = [...checks];
          // Answered only once the package passed its last check: had the load waited for the
          // token before verifying, it would never get there.
          await verified;
          return a.identity.issue(ERIN, 600, audience);
        },
      },
    });
    const withBob = await erin.runtime.conversation(BOB);
    expect(withBob.status).toBe('live');
    expect(checksWhenAsked).toEqual([]);
    expect(checks).toContain('integrity');
  });

  it('fails the conversation with the token’s own refusal when the token asked during verification fails', async () => {
    const FRANK = 'user://a.example/frank';
    const frank = three.runtime(FRANK, {
      host,
      identity: {
        address: FRANK,
        token: async () => {
          throw new ProtoflyError('PF_ERR_AUTH', 'frank is logged out');
        },
      },
    });
    await expect(frank.runtime.conversation(BOB)).rejects.toThrow(/^PF_ERR_AUTH: frank is logged out$/);
  });

  it('refuses a runtime whose token the carrier’s node rejects, with a coded error', async () => {
    const mallory = three.runtime('user://a.example/mallory', {
      host,
      identity: { address: 'user://a.example/mallory', token: async () => 'not-a-jwt' },
    });
    const opening = mallory.runtime.conversation(BOB);
    // The stub's own code reaches the app, with the stub named and the node's close.
    await expect(opening).rejects.toMatchObject({ code: 'PF_ERR_AUTH' });
    await expect(opening).rejects.toThrow(
      /^PF_ERR_AUTH: stub b\.example\/json-ws@[^:]+: the node refused user:\/\/a\.example\/mallory \(closed 4401\): token /,
    );
  });

  it('rejects register() with PF_ERR_AUTH when the home node refuses the token; the caller alone is told', async () => {
    // One no runtime on this host registered: instances of one user on one host share its connection.
    const TRUDY = 'user://b.example/trudy';
    const trudy = domains.runtime(TRUDY, {
      host,
      identity: { address: TRUDY, token: async () => 'not-a-jwt' },
    });
    const told: string[] = [];
    trudy.runtime.on('error', (err) => told.push(err.code));
    trudy.runtime.on('inbox', (e) => told.push(e.state));
    const registering = trudy.runtime.register();
    await expect(registering).rejects.toMatchObject({ code: 'PF_ERR_AUTH' });
    // The node's own words name what it refused; the code once, in front.
    await expect(registering).rejects.toThrow(
      /^PF_ERR_AUTH: stub b\.example\/json-ws@[^:]+: the node refused user:\/\/b\.example\/trudy \(closed 4401\): token 'not-a-jwt\.\.\.' is not a JWT$/,
    );
    // The caller has it: no error event, nor an inbox `lost` (which comes with the failure, and starts a retry).
    expect(told).toEqual([]);
  });
});
