import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { validateMessage } from '../../../core/generated/validators.js';
import { type Message, response } from '../../../core/message.js';
import { DirectContext, DirectSession } from '../../../entry/stub-testing.js';
import { eventually } from '../../../test/support/conversation.js';
import activate from './index.js';
import { parse, type SipRequest, type SipResponse, serialize } from './message/index.js';
import { createResponse } from './user-agent-core/responses.js';

/**
 * The stub against a SIP server that misbehaves: a WebSocket server that registers it, then
 * sends what no well-behaved server would. Whatever arrives, the stub throws nothing (an
 * exception in a socket handler here would fail the test run), stays live, and answers what
 * it can answer.
 */

interface Hostile {
  readonly url: string;
  /** What the stub sent, as text. */
  readonly heard: string[];
  /** Sends a text frame, or a binary one for bytes. */
  send(frame: string | Uint8Array): void;
  close(): Promise<void>;
}

async function hostile(): Promise<Hostile> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'sip' });
  await new Promise((r) => wss.once('listening', r));
  const heard: string[] = [];
  let peer: WsSocket | undefined;
  wss.on('connection', (ws) => {
    peer = ws;
    ws.on('message', (data) => {
      const text = String(data);
      heard.push(text);
      if (!text.startsWith('REGISTER')) return;
      const req = parse(text) as SipRequest;
      const ok = createResponse(req, 200, { toTag: 'reg' });
      ok.headers.append('Contact', `${req.headers.get('Contact')}`);
      ws.send(serialize(ok) as string);
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    heard,
    send: (frame) => peer?.send(frame, { binary: typeof frame !== 'string' }),
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

const crlf = (...lines: string[]) => [...lines, ''].join('\r\n');
const request = (method: string, branch: string, extra: string[] = [], body = '') =>
  crlf(
    `${method} sip:carol@x.invalid;transport=ws SIP/2.0`,
    `Via: SIP/2.0/WS 10.0.0.1:5066;branch=z9hG4bK${branch}`,
    'Max-Forwards: 70',
    'To: <sip:carol@c.example>',
    'From: <sip:dave@c.example>;tag=d1',
    `Call-ID: ${branch}@c.example`,
    `CSeq: 1 ${method}`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
  ) + body;

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

let server: Hostile | undefined;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  await server?.close();
});

async function liveStub() {
  server = await hostile();
  const session = new DirectSession();
  const ctx = new DirectContext({
    address: 'user://c.example/carol',
    config: { url: server.url, password: 'pw', keepAliveMs: 0 },
    session,
    domain: 'c.example',
    peer: 'user://c.example/dave',
  });
  const stub = await activate(ctx);
  cleanup = async () => {
    await stub.stop();
    ctx.end();
    session.end();
  };
  await ctx.until(() => ctx.statuses.at(-1) === 'live');
  return { ctx, stub, server };
}

/** The status of the response the stub sent to the request with `branch`, once it sent one. */
async function answered(h: Hostile, branch: string): Promise<number> {
  const find = () =>
    h.heard
      .filter((t) => t.startsWith('SIP/2.0') && t.includes(branch))
      .map((t) => parse(t) as SipResponse)
      .find((r) => r.status >= 200);
  await eventually(() => find() !== undefined, `a final response to ${branch}`);
  return find()!.status;
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
