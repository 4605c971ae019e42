import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/sip-ws/index.js';
import {
  parse,
  type SipMessage,
  SipRequest,
  type SipResponse,
  serialize,
} from '../../plugins/stubs/sip-ws/message/index.js';
import { createResponse } from '../../plugins/stubs/sip-ws/user-agent-core/responses.js';

/**
 * A SIP server in a test's hands: a WebSocket server (subprotocol `sip`) that registers the
 * sip-ws stub with a 200 and otherwise sends only what the test scripts, raw. What the stub
 * sends is kept, in order, and can be waited for (each frame wakes the waiters: no polling).
 */
export interface ScriptedSipServer {
  readonly url: string;
  /** What the stub sent, as text. */
  readonly heard: string[];
  /** Sends a text frame, or a binary one for bytes. */
  send(frame: string | Uint8Array): void;
  /** Resolves with the first message the stub sent (or sends) that `match` accepts. */
  next<T extends SipMessage>(match: (m: SipMessage) => m is T): Promise<T>;
  next(match: (m: SipMessage) => boolean): Promise<SipMessage>;
  /**
   * Resolves once the stub answered an OPTIONS sent now: whatever it sent before that answer
   * (on the same socket, in order) has been heard.
   */
  barrier(): Promise<void>;
  /** Resolves with the `nth` (from 0) request of `method` the stub sent, once it came. */
  request(method: string, nth?: number): Promise<SipRequest>;
  /** Answers `request`, one the stub sent, with `status` (To tag `x`). */
  reply(request: SipRequest, status: number): void;
  /** Closes the latest connection, as a server going away would. */
  drop(): void;
  /** Whether REGISTER is answered: while false, REGISTERs wait (the stub stays unregistered). */
  registering: boolean;
  close(): Promise<void>;
}

export async function scriptedSipServer(): Promise<ScriptedSipServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'sip' });
  await new Promise((r) => wss.once('listening', r));
  const heard: string[] = [];
  const waiters = new Set<() => void>();
  const waitingRegisters: { ws: WsSocket; req: SipRequest }[] = [];
  let peer: WsSocket | undefined;
  let registering = true;
  const register = (ws: WsSocket, req: SipRequest) => {
    const ok = createResponse(req, 200, { toTag: 'reg' });
    ok.headers.append('Contact', `${req.headers.get('Contact')}`);
    ws.send(serialize(ok) as string);
  };
  wss.on('connection', (ws) => {
    peer = ws;
    ws.on('message', (data) => {
      const text = String(data);
      heard.push(text);
      if (text.startsWith('REGISTER')) {
        const req = parse(text) as SipRequest;
        if (registering) register(ws, req);
        else waitingRegisters.push({ ws, req });
      }
      for (const w of [...waiters]) w();
    });
  });
  const parsed = (t: string): SipMessage | undefined => {
    try {
      return parse(t);
    } catch {
      return undefined;
    }
  };
  let barriers = 0;
  const server = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    heard,
    send: (frame: string | Uint8Array) => peer?.send(frame, { binary: typeof frame !== 'string' }),
    barrier: async () => {
      const branch = `barrier${++barriers}`;
      server.send(sipRequest('OPTIONS', branch));
      await server.next(responseTo(branch, 200));
    },
    next: (match: (m: SipMessage) => boolean) =>
      new Promise<SipMessage>((resolve) => {
        let seen = 0;
        const look = () => {
          for (; seen < heard.length; seen++) {
            const m = parsed(heard[seen]!);
            if (m && match(m)) {
              waiters.delete(look);
              return resolve(m);
            }
          }
        };
        waiters.add(look);
        look();
      }),
    request: (method: string, nth = 0) => {
      let n = 0;
      return server.next(
        (m): m is SipRequest => m instanceof SipRequest && m.method === method && n++ === nth,
      ) as Promise<SipRequest>;
    },
    reply: (request: SipRequest, status: number) =>
      peer?.send(serialize(createResponse(request, status, { toTag: 'x' })) as string),
    drop: () => peer?.terminate(),
    get registering() {
      return registering;
    },
    set registering(on: boolean) {
      registering = on;
      if (on) for (const { ws, req } of waitingRegisters.splice(0)) register(ws, req);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
  return server as ScriptedSipServer;
}

export const CAROL = 'user://c.example/carol';
export const DAVE = 'user://c.example/dave';

/** The stub for carol (a conversation with dave), registered with `server`; `stop` ends it. */
export async function stubAt(server: ScriptedSipServer, config: Record<string, unknown> = {}) {
  const session = new DirectSession();
  const ctx = new DirectContext({
    address: CAROL,
    config: { url: server.url, password: 'pw', keepAliveMs: 0, ...config },
    session,
    domain: 'c.example',
    peer: DAVE,
  });
  const stub = await activate(ctx);
  await ctx.until(() => ctx.statuses.at(-1) === 'live');
  return {
    ctx,
    stub,
    stop: async () => {
      await stub.stop();
      ctx.end();
      session.end();
    },
  };
}

/** Lines joined with CRLF, with a final CRLF. */
export const crlf = (...lines: string[]) => [...lines, ''].join('\r\n');

/** What a scripted request from dave to carol varies on; the defaults make one outside any dialog. */
export interface ScriptedRequest {
  readonly extra?: readonly string[];
  readonly body?: string;
  /** The Call-ID; `<branch>@c.example` by default. */
  readonly callId?: string;
  /** Dave's From tag; `d1` by default. */
  readonly fromTag?: string;
  readonly cseq?: number;
  /** The To tag: the stub's, for a request within its dialog. */
  readonly toTag?: string;
}

/** A request from dave to carol whose transaction is named by `branch` (also its default Call-ID). */
export function sipRequest(method: string, branch: string, r: ScriptedRequest = {}): string {
  const body = r.body ?? '';
  return (
    crlf(
      `${method} sip:carol@x.invalid;transport=ws SIP/2.0`,
      `Via: SIP/2.0/WS 10.0.0.1:5066;branch=z9hG4bK${branch}`,
      'Max-Forwards: 70',
      `To: <sip:carol@c.example>${r.toTag ? `;tag=${r.toTag}` : ''}`,
      `From: <sip:dave@c.example>;tag=${r.fromTag ?? 'd1'}`,
      `Call-ID: ${r.callId ?? `${branch}@c.example`}`,
      `CSeq: ${r.cseq ?? 1} ${method}`,
      ...(r.extra ?? []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
    ) + body
  );
}

/**
 * What makes a scripted request one within the dialog of `invite`, a call the stub made and
 * dave answered with {@link reply} (To tag `d-dialog`), at `cseq`.
 */
export function dialogOf(invite: SipRequest, cseq: number): ScriptedRequest {
  return { callId: invite.callId, toTag: invite.from.params.get('tag')!, fromTag: 'd-dialog', cseq };
}

/** Matches the stub's responses to the request of `branch` (with `method`, when given). */
export const responseTo =
  (branch: string, min = 100, method?: string) =>
  (m: SipMessage): m is SipResponse =>
    !(m instanceof SipRequest) &&
    m.status >= min &&
    m.via.params.get('branch') === `z9hG4bK${branch}` &&
    (method === undefined || m.cseq.method === method);

/** Matches a request the stub sent with `method`. */
export const requestOf =
  (method: string, after = 0) =>
  (m: SipMessage): m is SipRequest =>
    m instanceof SipRequest && m.method === method && m.cseq.seq > after;

/** A response from dave's side to `request` the stub sent, as text. */
export function reply(
  request: SipRequest,
  status: number,
  options: {
    toTag?: string;
    reason?: string;
    extra?: readonly (readonly [string, string])[];
    sdp?: string;
  } = {},
): string {
  const res = createResponse(request, status, {
    reason: options.reason,
    toTag: options.toTag ?? 'd-dialog',
    extra: [['Contact', '<sip:dave@10.0.0.1:5066;transport=ws>'], ...(options.extra ?? [])],
    ...(options.sdp
      ? { body: { type: { type: 'application', subtype: 'sdp', params: new Map() }, text: options.sdp } }
      : {}),
  });
  return serialize(res) as string;
}
