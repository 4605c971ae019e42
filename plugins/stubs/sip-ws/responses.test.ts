import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationBody } from '../../../core/generated/types.js';
import { type Message, request, response } from '../../../core/message.js';
import {
  CAROL,
  DAVE,
  responseTo,
  type ScriptedRequest,
  type ScriptedSipServer,
  scriptedSipServer,
  sipRequest,
  stubAt,
} from '../../../test/support/scripted-sip.js';
import { parse, type SipRequest, type SipResponse } from './message/index.js';

/**
 * Every response path of the stub, driven with raw SIP from a scripted server: for each
 * request or situation that gets a response, the status and the header fields RFC 3261 (and
 * RFC 3262, 3311, 6086) require of that response.
 */

const SDP = 'v=0\r\no=dave 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n';
const sdpType = 'Content-Type: application/sdp';
const METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'MESSAGE', 'OPTIONS', 'UPDATE', 'PRACK', 'INFO'];

/** What a row expects of the response: its status, and header fields present (a pattern) or absent (null). */
interface Expected {
  readonly status: number;
  readonly headers?: Readonly<Record<string, RegExp | null>>;
  /** False for the one response that takes no To tag (100 Trying, §8.2.6.1). */
  readonly toTag?: boolean;
}

const allow = new RegExp(METHODS.map((m) => `(?=.*\\b${m}\\b)`).join(''));
/** §13.3.1.4 (2xx to INVITE), §11.2 (200 to OPTIONS). */
const capabilities = { Allow: allow, Supported: /\b100rel\b/ };
/** §11.2 (200 to OPTIONS), §21.4.13 (415). */
const accepts = (accept: RegExp) => ({
  Accept: accept,
  'Accept-Encoding': /identity/,
  'Accept-Language': /en/,
});

/** §8.2.6.2: what every response copies from its request, and the To tag it adds. */
function expectCopied(res: SipResponse, req: SipRequest, toTag: boolean): void {
  expect(res.headers.getAll('Via')).toEqual(req.headers.getAll('Via'));
  expect(res.headers.get('From')).toBe(req.headers.get('From'));
  expect(res.headers.get('Call-ID')).toBe(req.headers.get('Call-ID'));
  expect(res.headers.get('CSeq')).toBe(req.headers.get('CSeq'));
  const tag = res.to.params.get('tag');
  const sent = req.to.params.get('tag');
  if (sent) expect(tag).toBe(sent);
  else if (toTag) expect(tag).toMatch(/^[a-z0-9]{6,}$/);
  else expect(tag).toBeUndefined();
}

function expectResponse(res: SipResponse, req: SipRequest, expected: Expected): void {
  expect(res.status, `${req.method} ${req.via.params.get('branch')}`).toBe(expected.status);
  expectCopied(res, req, expected.toTag ?? true);
  for (const [name, pattern] of Object.entries(expected.headers ?? {})) {
    if (pattern === null) expect(res.headers.has(name), `${name} in ${res.status}`).toBe(false);
    else expect(res.headers.getAll(name).join(', '), `${name} in ${res.status}`).toMatch(pattern);
  }
}

let server: ScriptedSipServer | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  await server?.close();
  stop = undefined;
});

async function live() {
  server = await scriptedSipServer();
  const stub = await stubAt(server);
  stop = stub.stop;
  return { server, ...stub };
}

/** Sends a request and resolves with the stub's first response to it of at least `min`. */
async function exchange(branch: string, method: string, r: ScriptedRequest = {}, min = 200) {
  const text = sipRequest(method, branch, r);
  server!.send(text);
  const res = await server!.next(responseTo(branch, min, method));
  return { req: parse(text) as SipRequest, res };
}

describe('every response of the sip-ws stub carries what its status and method require', () => {
  it('outside a dialog', async () => {
    const { ctx, stub } = await live();
    const rows: readonly [branch: string, method: string, request: ScriptedRequest, expected: Expected][] = [
      [
        'options',
        'OPTIONS',
        {},
        {
          status: 200,
          headers: { ...capabilities, ...accepts(/application\/sdp.*text\/plain.*application\/dtmf-relay/) },
        },
      ],
      ['subscribe', 'SUBSCRIBE', { extra: ['Event: presence'] }, { status: 405, headers: { Allow: allow } }],
      ['bye', 'BYE', {}, { status: 481, headers: { Allow: null } }],
      [
        'info',
        'INFO',
        { extra: ['Content-Type: application/dtmf-relay'], body: 'Signal=1\r\n' },
        { status: 481 },
      ],
      ['update', 'UPDATE', { extra: [sdpType], body: SDP }, { status: 481 }],
      ['prack', 'PRACK', { extra: ['RAck: 1 1 INVITE'] }, { status: 481 }],
      [
        'require',
        'INVITE',
        { extra: ['Require: 100rel, x-teleport', 'Contact: <sip:dave@h.invalid>', sdpType], body: SDP },
        // §21.4.15: the ones it does not support, and only those (100rel it does).
        { status: 420, headers: { Unsupported: /^x-teleport$/ } },
      ],
      ['nosdp', 'INVITE', { extra: ['Contact: <sip:dave@h.invalid>'] }, { status: 488 }],
      ['badcontact', 'INVITE', { extra: ['Contact: <<<', sdpType], body: SDP }, { status: 400 }],
      [
        'binary',
        'MESSAGE',
        { extra: ['Content-Type: application/octet-stream'], body: 'xx' },
        { status: 415, headers: accepts(/text\/plain.*message\/cpim/) },
      ],
      [
        'toobig',
        'MESSAGE',
        { extra: ['Content-Type: text/plain'], body: 'x'.repeat(65_537) },
        { status: 413 },
      ],
      ['unknown-dialog', 'INFO', { toTag: 'nosuchdialog' }, { status: 481 }],
      // §21.4.1: a header read late that does not parse (found by sipp: it used to be dropped).
      ['badtype', 'MESSAGE', { extra: ['Content-Type: text'], body: 'x' }, { status: 400 }],
      ['cancel-nothing', 'CANCEL', {}, { status: 481 }],
    ];
    for (const [branch, method, r, expected] of rows) {
      const { req, res } = await exchange(branch, method, r);
      expectResponse(res, req, expected);
    }
    // A MESSAGE the runtime takes: its answer is the response.
    server!.send(sipRequest('MESSAGE', 'chat', { extra: ['Content-Type: text/plain'], body: 'hi' }));
    await ctx.until(() => ctx.received.length === 1);
    stub.postMessage(response(ctx.received[0]!, 200));
    const chat = await server!.next(responseTo('chat'));
    expectResponse(chat, parse(sipRequest('MESSAGE', 'chat')) as SipRequest, {
      status: 200,
      headers: { Allow: null },
    });
  });

  it('for a call: 100, 180, 2xx, CANCEL, 482, and every request within its dialog', async () => {
    const { ctx, stub } = await live();
    const invite: ScriptedRequest = {
      extra: ['Contact: <sip:dave@10.0.0.1:5066;transport=ws>', 'Record-Route: <sip:10.0.0.9;lr>', sdpType],
      body: SDP,
    };
    // A call the caller cancels: 487 to the INVITE and 200 to the CANCEL with the same To tag (§9.2).
    server!.send(sipRequest('INVITE', 'cancelled', invite));
    const trying = await server!.next(responseTo('cancelled', 100, 'INVITE'));
    expectResponse(trying, parse(sipRequest('INVITE', 'cancelled', invite)) as SipRequest, {
      status: 100,
      toTag: false,
    });
    await ctx.until(() => ctx.received.length === 1);
    stub.postMessage(response(ctx.received[0]!, 200));
    const ringing = await server!.next(responseTo('cancelled', 180, 'INVITE'));
    expect(ringing.headers.get('Contact')).toMatch(/transport=ws/);
    expect(ringing.headers.get('Record-Route')).toBe('<sip:10.0.0.9;lr>');
    const cancel = await exchange('cancelled', 'CANCEL', { callId: 'cancelled@c.example' });
    expectResponse(cancel.res, cancel.req, { status: 200 });
    const terminated = await server!.next(responseTo('cancelled', 200, 'INVITE'));
    expect(terminated.status).toBe(487);
    expect(terminated.to.params.get('tag')).toBe(ringing.to.params.get('tag'));
    expect(cancel.res.to.params.get('tag')).toBe(ringing.to.params.get('tag'));

    // The call the app answers.
    server!.send(sipRequest('INVITE', 'call', invite));
    await ctx.until(() => ctx.received.length === 3);
    const offer = ctx.received[2]!;
    stub.postMessage(response(offer, 200));
    const r180 = await server!.next(responseTo('call', 180, 'INVITE'));
    const tag = r180.to.params.get('tag')!;
    // §8.2.2.2: the same Call-ID again outside the dialog is a merged request.
    const merged = await exchange('merged', 'INVITE', { ...invite, callId: 'call@c.example' });
    expectResponse(merged.res, merged.req, { status: 482 });
    const callId = (offer.body as { value: { callId: string } }).value.callId;
    post(stub, { kind: 'answer', callId, sdp: SDP });
    const ok = await server!.next(responseTo('call', 200, 'INVITE'));
    expectResponse(ok, parse(sipRequest('INVITE', 'call', invite)) as SipRequest, {
      status: 200,
      headers: {
        ...capabilities,
        Contact: /transport=ws/,
        'Record-Route': /10\.0\.0\.9/,
        'Content-Type': /sdp/,
      },
    });
    expect(ok.to.params.get('tag')).toBe(tag);
    expect(ok.body).toBe(SDP);
    server!.send(sipRequest('ACK', 'ack1', { callId: 'call@c.example', toTag: tag }));
    // §9.2: a CANCEL that crossed the 2xx (found by sipp racing one) still matches the INVITE's
    // transaction: 200 with the dialog's To tag, and no effect on the call (the rows below).
    const late = await exchange('call', 'CANCEL', { callId: 'call@c.example' });
    expectResponse(late.res, late.req, { status: 200 });
    expect(late.res.to.params.get('tag')).toBe(tag);

    // Within the dialog.
    let seq = 1;
    const inDialog = (extra: ScriptedRequest = {}): ScriptedRequest => ({
      callId: 'call@c.example',
      toTag: tag,
      cseq: ++seq,
      ...extra,
    });
    const rows: readonly [branch: string, method: string, request: ScriptedRequest, expected: Expected][] = [
      ['d-options', 'OPTIONS', inDialog(), { status: 200, headers: capabilities }],
      ['d-subscribe', 'SUBSCRIBE', inDialog(), { status: 405, headers: { Allow: allow } }],
      [
        'd-info-text',
        'INFO',
        inDialog({ extra: ['Content-Type: text/plain'], body: 'hi' }),
        { status: 415, headers: accepts(/^application\/dtmf-relay$/) },
      ],
      [
        'd-info-package',
        'INFO',
        inDialog({ extra: ['Info-Package: foo', 'Content-Type: application/foo'], body: 'x' }),
        // RFC 6086 §4.2.2: 469 with the packages it takes: none.
        { status: 469, headers: { 'Recv-Info': /^$/ } },
      ],
      [
        'd-info-bad',
        'INFO',
        inDialog({ extra: ['Content-Type: application/dtmf-relay'], body: 'Signal=Z\r\n' }),
        { status: 400 },
      ],
      ['d-info-empty', 'INFO', inDialog(), { status: 200 }],
      ['d-reinvite-nosdp', 'INVITE', inDialog({ extra: invite.extra!.slice(0, 1) }), { status: 488 }],
      ['d-old-cseq', 'OPTIONS', { callId: 'call@c.example', toTag: tag, cseq: 1 }, { status: 500 }],
    ];
    for (const [branch, method, r, expected] of rows) {
      const { req, res } = await exchange(branch, method, r);
      expectResponse(res, req, expected);
    }

    // A key pressed: the app's dtmf, and its answer the INFO's 200.
    server!.send(
      sipRequest(
        'INFO',
        'd-dtmf',
        inDialog({ extra: ['Content-Type: application/dtmf-relay'], body: 'Signal=5\r\nDuration=250\r\n' }),
      ),
    );
    const dtmf = await take(ctx, 'dtmf');
    expect(bodyOf(dtmf)).toEqual({ kind: 'dtmf', callId, digits: '5', duration: 250 });
    stub.postMessage(response(dtmf, 200));
    expect((await server!.next(responseTo('d-dtmf'))).status).toBe(200);

    // A re-INVITE: the app's update; a second one meanwhile is 500 with Retry-After (§14.2); the answer is a 2xx like the first.
    const reinvite = inDialog(invite);
    server!.send(sipRequest('INVITE', 'd-reinvite', reinvite));
    const update = await take(ctx, 'update');
    expect(bodyOf(update)).toEqual({ kind: 'update', callId, sdp: SDP });
    stub.postMessage(response(update, 200));
    const second = await exchange('d-reinvite-2', 'INVITE', inDialog(invite));
    expectResponse(second.res, second.req, { status: 500, headers: { 'Retry-After': /^([0-9]|10)$/ } });
    const secondUpdate = await exchange('d-update-2', 'UPDATE', inDialog({ extra: [sdpType], body: SDP }));
    expectResponse(secondUpdate.res, secondUpdate.req, { status: 500, headers: { 'Retry-After': /^\d+$/ } });
    post(stub, { kind: 'answer', callId, sdp: SDP });
    const reOk = await server!.next(responseTo('d-reinvite', 200, 'INVITE'));
    expectResponse(reOk, parse(sipRequest('INVITE', 'd-reinvite', reinvite)) as SipRequest, {
      status: 200,
      headers: { ...capabilities, Contact: /transport=ws/, 'Content-Type': /sdp/ },
    });
    server!.send(sipRequest('ACK', 'ack2', { callId: 'call@c.example', toTag: tag, cseq: reinvite.cseq! }));

    // An UPDATE the app refuses: its code, and the call goes on.
    server!.send(sipRequest('UPDATE', 'd-update', inDialog({ extra: [sdpType], body: SDP })));
    const updated = await take(ctx, 'update', 1);
    stub.postMessage(response(updated, 200));
    post(stub, { kind: 'reject', callId, code: 488 });
    const refused = await server!.next(responseTo('d-update'));
    expect(refused.status).toBe(488);
    expect(refused.to.params.get('tag')).toBe(tag);

    const bye = await exchange('d-bye', 'BYE', inDialog());
    expectResponse(bye.res, bye.req, { status: 200, headers: { Allow: null } });
    // The dialog is gone: what follows in it is 481.
    const after = await exchange('d-after', 'INFO', inDialog());
    expectResponse(after.res, after.req, { status: 481 });
  });
});

/** The app's body in a call, posted as the runtime would. */
function post(stub: { postMessage(m: Message): void }, value: ConversationBody): void {
  stub.postMessage(request('update', CAROL, DAVE, { value }));
}

function bodyOf(m: Message): unknown {
  return (m.body as { value?: unknown }).value;
}

/** The `skip`-th message of `kind` the stub delivered, once it is there. */
async function take(
  ctx: { received: Message[]; until(c: () => boolean): Promise<void> },
  kind: string,
  skip = 0,
): Promise<Message> {
  const of = () => ctx.received.filter((m) => (bodyOf(m) as { kind?: string } | undefined)?.kind === kind);
  await ctx.until(() => of().length > skip);
  return of()[skip]!;
}
