import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { validateMessage } from '../../../core/generated/validators.js';
import { type Message, response } from '../../../core/message.js';
import {
  crlf,
  responseTo,
  type ScriptedSipServer,
  scriptedSipServer,
  sipRequest,
  stubAt,
} from '../../../test/support/scripted-sip.js';

/**
 * The stub against a SIP server that misbehaves: a WebSocket server that registers it, then
 * sends what no well-behaved server would. Whatever arrives, the stub throws nothing (an
 * exception in a socket handler here would fail the test run), stays live, and answers what
 * it can answer.
 */

const request = (method: string, branch: string, extra: string[] = [], body = '') =>
  sipRequest(method, branch, { extra, body });

/** Well-formed messages a server may send: requests for the stub, and a response. */
const valid = [
  request('MESSAGE', 'm', ['Content-Type: text/plain'], 'hello'),
  request(
    'INVITE',
    'i',
    ['Contact: <sip:dave@h.invalid;transport=ws>', 'Content-Type: application/sdp'],
    'v=0\r\nm=audio 9 RTP/AVP 0\r\n',
  ),
  crlf(
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/WS x.invalid;branch=z9hG4bKr',
    'To: <sip:dave@c.example>;tag=2',
    'From: <sip:carol@c.example>;tag=1',
    'Call-ID: r',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
  ),
];

/** `text` with a few characters replaced by short strings at any place. */
const mutation = fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 6 })), { maxLength: 4 });
function mutate(text: string, edits: readonly (readonly [number, string])[]): string {
  let mutated = text;
  for (const [at, insert] of edits) {
    const i = at % (mutated.length + 1);
    mutated = mutated.slice(0, i) + insert + mutated.slice(i + 1);
  }
  return mutated;
}

let server: ScriptedSipServer | undefined;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  await server?.close();
});

async function liveStub() {
  server = await scriptedSipServer();
  const { ctx, stub, stop } = await stubAt(server);
  cleanup = stop;
  return { ctx, stub, server };
}

/** The status of the response the stub sent to the request with `branch`, once it sent one. */
async function answered(h: ScriptedSipServer, branch: string): Promise<number> {
  return (await h.next(responseTo(branch, 200))).status;
}

describe('sip-ws facing a misbehaving SIP server', () => {
  it('drops what does not parse and answers what breaks a rule it can name', async () => {
    const { ctx, server } = await liveStub();
    server.send('this is not SIP');
    server.send('SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n');
    server.send(
      crlf(
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/WS h;branch=z9hG4bKnobody',
        'To: <sip:a@b>',
        'From: <sip:c@d>;tag=1',
        'Call-ID: x',
        'CSeq: 1 MESSAGE',
        'Content-Length: 0',
        '',
      ),
    );
    server.send(request('BYE', 'nodialog'));
    server.send(request('SUBSCRIBE', 'unknown', ['Event: presence']));
    server.send(request('INVITE', 'needsext', ['Require: x-teleport', 'Contact: <sip:dave@h.invalid>']));
    server.send(request('INVITE', 'nosdp', ['Contact: <sip:dave@h.invalid>']));
    server.send(request('MESSAGE', 'binary', ['Content-Type: application/octet-stream'], 'xx'));
    server.send(
      request('INVITE', 'badcontact', ['Contact: <<<', 'Content-Type: application/sdp'], 'v=0\r\n'),
    );
    server.send(request('OPTIONS', 'options'));
    expect(await answered(server, 'nodialog')).toBe(481);
    expect(await answered(server, 'unknown')).toBe(405);
    expect(await answered(server, 'needsext')).toBe(420);
    expect(await answered(server, 'nosdp')).toBe(488);
    expect(await answered(server, 'binary')).toBe(415);
    expect(await answered(server, 'badcontact')).toBe(400);
    expect(await answered(server, 'options')).toBe(200);
    expect(ctx.statuses).toEqual(['connecting', 'live']);
    expect(ctx.received).toEqual([]);
  });

  it('throws nothing and stays live whatever a mutated request or response holds', async () => {
    const { ctx, server } = await liveStub();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...valid), mutation, async (text, edits) => {
        server.send(mutate(text, edits));
      }),
      { numRuns: 300 },
    );
    server.send(request('OPTIONS', 'still'));
    expect(await answered(server, 'still')).toBe(200);
    expect(ctx.statuses).toEqual(['connecting', 'live']);
  });

  it('throws nothing and hands the runtime only messages, whatever frames come, then works on', async () => {
    const { ctx, stub, server } = await liveStub();
    const frames = fc.oneof(
      { arbitrary: fc.tuple(fc.constantFrom(...valid), mutation).map(([t, e]) => mutate(t, e)), weight: 6 },
      { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)), weight: 2 },
      { arbitrary: fc.string({ unit: 'binary' }), weight: 2 },
      fc.constantFrom('\r\n', '\r\n\r\n', '', ' '),
      // Huge: a header line, or a body with its length; deep; binary, and not UTF-8.
      fc
        .integer({ min: 10_000, max: 300_000 })
        .map((n) => request('MESSAGE', 'h', [`X-Long: ${'a'.repeat(n)}`])),
      fc
        .integer({ min: 10_000, max: 300_000 })
        .map((n) => request('MESSAGE', 'big', ['Content-Type: text/plain'], 'b'.repeat(n))),
      fc.integer({ min: 1000, max: 50_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
      fc.uint8Array({ maxLength: 64 }),
      fc.constant(new Uint8Array([0x4d, 0x45, 0x53, 0x53, 0x41, 0x47, 0x45, 0x20, 0xff, 0xfe, 0x0d, 0x0a])),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { maxLength: 8 }), async (batch) => {
        for (const f of batch) server.send(f);
      }),
      { numRuns: 150 },
    );
    // A legitimate exchange still works: a MESSAGE reaches the runtime, whose answer goes back.
    server.send(request('MESSAGE', 'legit', ['Content-Type: text/plain'], 'after all that'));
    const isLegit = (m: Message) => JSON.stringify(m.body).includes('after all that');
    await ctx.until(() => ctx.received.some(isLegit));
    stub.postMessage(response(ctx.received.find(isLegit)!, 200));
    expect(await answered(server, 'legit')).toBe(200);
    for (const m of ctx.received) expect(validateMessage(m)).toBe(true);
    expect(ctx.statuses.at(-1)).toBe('live');
  }, 60_000);
});
