import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Element, xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Message, request, response } from '../../core/message.js';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/xmpp-ws/index.js';
import { readSdp } from '../../plugins/stubs/xmpp-ws/sdp.js';
import { PASSWORDS, type Prosody, startProsody, XMPP_DOMAIN } from '../support/prosody.js';
import { FAST } from '../support/sip-world.js';
import { type FarSide, farSide } from './far-side.js';

/**
 * Calls between the xmpp-ws stub (Alice, in the test process) and @xmpp/client (Erin) through a
 * real Prosody, both ways: Jingle Message Initiation (XEP-0353) rings, Jingle (XEP-0166/0167/0176)
 * carries the session. Erin's side is Jingle this test writes by hand, as XEP-0167's examples do.
 */

const DIR = join(import.meta.dirname, '../../plugins/stubs/xmpp-ws');
const DEFAULTS = JSON.parse(readFileSync(join(DIR, 'protofly.json'), 'utf8')).configuration.defaults;
const ALICE = `user://${XMPP_DOMAIN}/alice`;
const ERIN = `user://${XMPP_DOMAIN}/erin`;
const JINGLE = 'urn:xmpp:jingle:1';
const JMI = 'urn:xmpp:jingle-message:0';
const RTP = 'urn:xmpp:jingle:apps:rtp:1';
const ICE = 'urn:xmpp:jingle:transports:ice-udp:1';

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendrecv',
  'a=ice-ufrag:aliceUfrag',
  'a=ice-pwd:alicePasswordAlicePassword',
  'a=fingerprint:sha-256 AA:BB:CC:DD',
  'a=setup:actpass',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

let prosody: Prosody;
let erin: FarSide | undefined;
beforeAll(async () => {
  prosody = await startProsody({ domain: XMPP_DOMAIN, users: PASSWORDS });
});
afterEach(async () => {
  await erin?.stop();
  erin = undefined;
});
afterAll(() => prosody?.stop());

async function alice() {
  const ctx = new DirectContext({
    address: ALICE,
    domain: XMPP_DOMAIN,
    config: { ...DEFAULTS, url: prosody.wsUrl, password: PASSWORDS.alice, ...FAST },
    session: new DirectSession(),
    peer: ERIN,
    from: [ERIN],
  });
  const stub = await activate(ctx);
  await ctx.until(() => ctx.statuses.includes('live'));
  const post = (type: 'create' | 'update', value: Record<string, unknown>) => {
    const msg = request(type, ALICE, ERIN, { value });
    stub.postMessage(msg);
    return msg;
  };
  const codeOf = async (msg: Message) => {
    await ctx.until(() => ctx.received.some((r) => r.type === 'response' && r.id === msg.id));
    return (ctx.received.find((r) => r.type === 'response' && r.id === msg.id)!.body as { code: number })
      .code;
  };
  /** The next call body handed to the runtime of `kind`, after those already seen. */
  const body = async (kind: string) => {
    const of = (m: Message) => (m.body as { value?: { kind?: string } }).value?.kind === kind;
    await ctx.until(() => ctx.received.some((m) => m.type !== 'response' && of(m)));
    return ctx.received.find((m) => m.type !== 'response' && of(m))!;
  };
  const stop = async () => {
    await stub.stop();
    ctx.end();
  };
  return { ctx, stub, post, codeOf, body, stop };
}

const jingleOf = (s: Element, action: string) =>
  s.is('iq') && s.attrs.type === 'set' && s.getChild('jingle', JINGLE)?.attrs.action === action;
const jmiOf = (s: Element, action: string) => s.is('message') && s.getChild(action, JMI) !== undefined;
/** Erin's answer to an iq she got (XEP-0166 acknowledges every action with a result). */
const result = (iq: Element) => xml('iq', { type: 'result', to: iq.attrs.from!, id: iq.attrs.id! });
/** An iq set from Erin to `to` carrying a Jingle action; resolves once answered. */
function jingleFrom(far: FarSide, to: string, action: string, sid: string, ...children: Element[]) {
  const id = `${action}-${sid}`;
  const answered = far.next((s) => s.is('iq') && s.attrs.id === id && s.attrs.type !== 'set');
  return far
    .send(xml('iq', { type: 'set', to, id }, xml('jingle', { xmlns: JINGLE, action, sid }, ...children)))
    .then(() => answered);
}
/**
 * Erin calls Alice (XEP-0353 then XEP-0166): a propose, Alice's stub's proceed, then the
 * session-initiate with her content. Resolves with Alice's full JID and the initiate's answer.
 */
async function erinCalls(far: FarSide, sid: string, senders?: string) {
  await far.send(
    xml(
      'message',
      { to: 'alice@x.example', type: 'chat', id: `p-${sid}` },
      xml('propose', { xmlns: JMI, id: sid }, xml('description', { xmlns: RTP, media: 'audio' })),
    ),
  );
  const proceed = await far.next((s) => jmiOf(s, 'proceed'));
  const aliceJid = proceed.attrs.from!;
  const initiated = await jingleFrom(far, aliceJid, 'session-initiate', sid, erinContent(senders));
  return { aliceJid, initiated };
}
/** XEP-0167 Example 1's content, Erin's way: Speex and PCMU, an ICE-UDP transport with one candidate. */
const erinContent = (senders = 'both') =>
  xml(
    'content',
    { creator: 'initiator', name: '0', senders },
    xml(
      'description',
      { xmlns: RTP, media: 'audio' },
      xml('payload-type', { id: '97', name: 'speex', clockrate: '8000' }),
      xml('payload-type', { id: '0', name: 'PCMU', clockrate: '8000' }),
    ),
    xml(
      'transport',
      { xmlns: ICE, ufrag: 'erinUfrag', pwd: 'erinPasswordErinPassword' },
      xml('candidate', {
        component: '1',
        foundation: '1',
        generation: '0',
        id: 'el0747fg11',
        ip: '10.0.1.1',
        network: '1',
        port: '8998',
        priority: '2130706431',
        protocol: 'udp',
        type: 'host',
      }),
    ),
  );

describe('xmpp-ws calls with Jingle, @xmpp/client the far side, through Prosody', () => {
  it('Alice calls: proposed, rung, proceeded, initiated, accepted, candidates both ways, terminated by Erin', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!);
    erin = far;
    const a = await alice();
    const call = a.post('create', { kind: 'offer', callId: 'call-1', sdp: OFFER });
    const propose = await far.next((s) => jmiOf(s, 'propose'));
    expect(propose.getChild('propose', JMI)!.attrs.id).toBe('call-1');
    expect(propose.getChild('propose', JMI)!.getChild('description', RTP)!.attrs.media).toBe('audio');
    const aliceJid = propose.attrs.from!;
    await far.send(xml('message', { to: aliceJid }, xml('ringing', { xmlns: JMI, id: 'call-1' })));
    // The first ring answers the app's offer, and says so as progress.
    expect(await a.codeOf(call)).toBe(200);
    expect((await a.body('progress')).body).toEqual({
      value: { kind: 'progress', callId: 'call-1', code: 180 },
    });
    await far.send(xml('message', { to: aliceJid }, xml('proceed', { xmlns: JMI, id: 'call-1' })));
    const initiate = await far.next((s) => jingleOf(s, 'session-initiate'));
    await far.send(result(initiate));
    const jingle = initiate.getChild('jingle', JINGLE)!;
    expect(jingle.attrs).toMatchObject({ sid: 'call-1', initiator: aliceJid });
    const offered = String(jingle);
    for (const part of [
      'name="opus"',
      'clockrate="48000"',
      'ufrag="aliceUfrag"',
      'name="minptime"',
      'rtcp-mux',
    ])
      expect(offered).toContain(part);
    const accepted = await jingleFrom(far, aliceJid, 'session-accept', 'call-1', erinContent());
    expect(accepted.attrs.type).toBe('result');
    const answer = (await a.body('answer')).body as { value: { callId: string; sdp: string } };
    expect(answer.value.callId).toBe('call-1');
    expect(readSdp(answer.value.sdp)).toEqual({
      bundle: [],
      media: [
        {
          kind: 'audio',
          mid: '0',
          direction: 'sendrecv',
          payloads: [
            { id: 97, name: 'speex', clockrate: 8000, params: [] },
            { id: 0, name: 'PCMU', clockrate: 8000, params: [] },
          ],
          ufrag: 'erinUfrag',
          pwd: 'erinPasswordErinPassword',
          rtcpMux: false,
          candidates: [
            {
              foundation: '1',
              component: 1,
              protocol: 'udp',
              priority: 2130706431,
              ip: '10.0.1.1',
              port: 8998,
              type: 'host',
              generation: 0,
            },
          ],
        },
      ],
    });
    // Alice trickles a candidate: a transport-info, answered by Erin's result.
    const trickled = a.post('update', {
      kind: 'candidate',
      callId: 'call-1',
      candidate: 'candidate:2 1 udp 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998',
      sdpMid: '0',
    });
    const info = await far.next((s) => jingleOf(s, 'transport-info'));
    await far.send(result(info));
    expect(String(info)).toContain('rel-addr="10.0.1.1"');
    expect(await a.codeOf(trickled)).toBe(200);
    await jingleFrom(far, aliceJid, 'session-terminate', 'call-1', xml('reason', {}, xml('success')));
    expect((await a.body('bye')).body).toEqual({
      value: { kind: 'bye', callId: 'call-1', reason: 'success' },
    });
    await a.stop();
  });

  it('Alice calls and Erin rejects: the offer is answered 603', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!);
    erin = far;
    const a = await alice();
    const call = a.post('create', { kind: 'offer', callId: 'call-2', sdp: OFFER });
    const propose = await far.next((s) => jmiOf(s, 'propose'));
    await far.send(xml('message', { to: propose.attrs.from! }, xml('reject', { xmlns: JMI, id: 'call-2' })));
    expect(await a.codeOf(call)).toBe(603);
    await a.stop();
  });

  it('Erin calls: proceeded with, initiated, rung once the app has the offer, accepted, and ended by the app', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!);
    erin = far;
    const a = await alice();
    const { initiated } = await erinCalls(far, 'call-3', 'initiator');
    expect(initiated.attrs.type).toBe('result');
    const offer = await a.body('offer');
    expect(offer).toMatchObject({
      type: 'create',
      from: ERIN,
      body: { value: { callId: 'call-3', media: ['audio'] } },
    });
    // Erin's `senders="initiator"`: she sends only, so her offer is sendonly.
    expect(readSdp((offer.body as { value: { sdp: string } }).value.sdp)?.media[0]?.direction).toBe(
      'sendonly',
    );
    a.stub.postMessage(response(offer, 200));
    await far.next((s) => jmiOf(s, 'ringing'));
    const answer = a.post('update', {
      kind: 'answer',
      callId: 'call-3',
      sdp: OFFER.replace('a=sendrecv', 'a=recvonly'),
    });
    const accept = await far.next((s) => jingleOf(s, 'session-accept'));
    expect(accept.getChild('jingle', JINGLE)!.getChild('content', JINGLE)!.attrs.senders).toBe('initiator');
    await far.send(result(accept));
    expect(await a.codeOf(answer)).toBe(200);
    const bye = a.post('update', { kind: 'bye', callId: 'call-3' });
    expect(await a.codeOf(bye)).toBe(200);
    const terminate = await far.next((s) => jingleOf(s, 'session-terminate'));
    expect(
      terminate.getChild('jingle', JINGLE)!.getChild('reason', JINGLE)!.getChild('success', JINGLE),
    ).toBeDefined();
    await a.stop();
  });

  it('Erin calls and the app refuses busy: session-terminate with reason busy', async () => {
    const far = await farSide(prosody.wsUrl, 'erin', PASSWORDS.erin!);
    erin = far;
    const a = await alice();
    await erinCalls(far, 'call-4');
    const offer = await a.body('offer');
    a.stub.postMessage(response(offer, 200));
    const reject = a.post('update', { kind: 'reject', callId: 'call-4', code: 486 });
    expect(await a.codeOf(reject)).toBe(200);
    const terminate = await far.next((s) => jingleOf(s, 'session-terminate'));
    expect(
      terminate.getChild('jingle', JINGLE)!.getChild('reason', JINGLE)!.getChild('busy', JINGLE),
    ).toBeDefined();
    await a.stop();
  });
});
