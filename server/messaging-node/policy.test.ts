import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';
import { Policy } from '../policy/policy.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const chat = (text: string, to = BOB) => request('create', ALICE, to, { value: { kind: 'chat', text } });
const offer = (media: ('audio' | 'video')[]) =>
  request('create', ALICE, BOB, { value: { kind: 'offer', callId: 'c1', sdp: 'v=0', media } });

let domains: TwoDomains;
afterEach(() => domains?.close());

describe('messaging node: policy', () => {
  it('refuses what a deny rule matches with PF_ERR_FORBIDDEN, keeps the connection, and passes the rest', async () => {
    const policy = new Policy('b.example', {
      rules: [
        { name: 'no-video-from-a', action: 'deny', from: ['user://a.example/*'], capabilities: ['video'] },
      ],
    });
    domains = await twoDomains({ policy });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const video = offer(['audio', 'video']);
    const audio = offer(['audio']);
    const bye = request('create', ALICE, BOB, { value: { kind: 'bye', callId: 'c1' } });
    for (const m of [video, audio, bye]) alice.msg(m);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(bye.id));
    expect(alice.frames.find((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_FORBIDDEN',
      message: `${ALICE} may not reach ${BOB} with video: refused by policy rule 'no-video-from-a'`,
      id: video.id,
    });
    expect(alice.answers()).toEqual([
      { id: video.id, ok: false },
      { id: audio.id, ok: true },
      { id: bye.id, ok: true },
    ]);
    await bob.take((f) => f.t === 'msg' && f.m.id === bye.id);
    expect(bob.messages().map((m) => m.id)).toEqual([audio.id, bye.id]);
    expect(Object.fromEntries(policy.counts())).toEqual({
      'no-video-from-a': { allowed: 0, refused: 1, flood: 0 },
      default: { allowed: 2, refused: 0, flood: 0 },
    });
  });

  it('holds a sender to a rule’s rate with PF_ERR_FLOOD, keeping the order of what follows to that recipient only', async () => {
    // One message, then none for a thousand seconds: nothing refills while the test runs.
    const policy = new Policy('b.example', {
      rules: [{ name: 'slow', action: 'allow', to: [BOB], rate: { perSecond: 0.001, burst: 1 } }],
    });
    domains = await twoDomains({ policy });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    // Bob online: what is let through is delivered at once, so answers come in the order sent.
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const [first, second, third] = [chat('1'), chat('2'), chat('3')];
    const toCarol = chat('to carol', CAROL);
    for (const m of [first, second, third, toCarol]) alice.msg(m);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(toCarol.id));
    expect(alice.answers()).toEqual([
      { id: first.id, ok: true },
      { id: second.id, ok: false },
      { id: third.id, ok: false },
      { id: toCarol.id, ok: true },
    ]);
    const errs = alice.frames.filter((f) => f.t === 'err');
    expect(errs[0]).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: `${ALICE} is over the rate of policy rule 'slow' (0.001 messages/s); message ${second.id} refused`,
    });
    expect(errs[1]).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining('refused to keep order'),
    });
    await bob.take((f) => f.t === 'msg' && f.m.id === first.id);
    expect(bob.messages().map((m) => m.id)).toEqual([first.id]);
    // Over the rate is counted as flood, not as a deny; the third never reached the policy.
    expect(policy.counts().get('slow')).toEqual({ allowed: 1, refused: 0, flood: 1 });
  });
});
