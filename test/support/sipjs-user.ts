import {
  type BodyAndContentType,
  type Invitation,
  Inviter,
  type Message,
  Messager,
  Registerer,
  RegistererState,
  type Session,
  type SessionDescriptionHandler,
  type SessionDescriptionHandlerModifier,
  type SessionState,
  UserAgent,
} from 'sip.js';
import WebSocket from 'ws';
import { sdp } from '../../server/sip-client/sdp-peer-connection.js';

/**
 * SIP.js 0.21 in Node as a second, independent SIP user agent (besides JsSIP) for the interop
 * tests through Kamailio. SIP.js is written from the RFCs by other people than JsSIP's, with its
 * own transaction layer, dialog handling and digest code: what both accept is what SIP users of
 * either library will see.
 *
 * Node has no WebRTC: the session description handler below gives SIP.js real SDP text (fixed
 * per side, ICE complete) and keeps what the far side sent, so the offer/answer exchange of
 * RFC 3264 is SIP.js's own; no media flows.
 */

/** What SIP.js was given and asked for in a call's offer/answer exchange. */
class FixedSdpHandler implements SessionDescriptionHandler {
  /** The far side's descriptions, in order. */
  readonly remote: string[] = [];

  close(): void {}

  async getDescription(
    _options?: unknown,
    modifiers: SessionDescriptionHandlerModifier[] = [],
  ): Promise<BodyAndContentType> {
    let description: RTCSessionDescriptionInit = { type: 'offer', sdp: sdp('sipjs') };
    for (const modify of modifiers) description = await modify(description);
    return { body: description.sdp!, contentType: 'application/sdp' };
  }

  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }

  async setDescription(description: string): Promise<void> {
    this.remote.push(description);
  }

  /** No RTP here (RFC 4733 events): DTMF goes by INFO, as a SIP.js app without media sends it. */
  sendDtmf(): boolean {
    return false;
  }
}

/** A chat SIP.js received. */
export interface SipJsReceived {
  readonly from: string;
  readonly body: string;
  readonly contentType: string;
}

export interface SipJsUser {
  readonly ua: UserAgent;
  readonly uri: string;
  /** Resolves with the next chat (or one already here and not yet taken). */
  nextMessage(): Promise<SipJsReceived>;
  /** Resolves with the next incoming call. */
  nextCall(): Promise<Invitation>;
  /** Sends a MESSAGE; resolves with the final status code. */
  send(target: string, text: string, contentType?: string): Promise<number>;
  /** Calls `target`; resolves with the final status code of the INVITE (and the session). */
  call(target: string): { session: Inviter; final: Promise<number> };
  /** The far side's SDP descriptions a session got, in order. */
  remote(session: Session): readonly string[];
  /** Resolves once `session` reaches `state`. */
  reaches(session: Session, state: SessionState): Promise<void>;
  stop(): Promise<void>;
}

/** A queue of things arriving, each taken once, in order. */
function arrivals<T>() {
  const items: T[] = [];
  const waiting: ((t: T) => void)[] = [];
  return {
    push: (t: T) => {
      const w = waiting.shift();
      if (w) w(t);
      else items.push(t);
    },
    next: () => (items.length > 0 ? Promise.resolve(items.shift()!) : new Promise<T>((r) => waiting.push(r))),
  };
}

/** Starts a SIP.js user agent for `user@domain` at `wsUrl`, registered (rejects with the status when refused). */
export async function sipjsUser(
  wsUrl: string,
  domain: string,
  user: string,
  password: string,
): Promise<SipJsUser> {
  // SIP.js opens `new WebSocket(server, 'sip')` on the global; Node 20 has none.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const uri = `sip:${user}@${domain}`;
  const messages = arrivals<SipJsReceived>();
  const calls = arrivals<Invitation>();
  const handlers = new WeakMap<Session, FixedSdpHandler>();
  const ua = new UserAgent({
    uri: UserAgent.makeURI(uri),
    transportOptions: { server: wsUrl },
    authorizationUsername: user,
    authorizationPassword: password,
    logBuiltinEnabled: false,
    sessionDescriptionHandlerFactory: (session) => {
      const handler = new FixedSdpHandler();
      handlers.set(session, handler);
      return handler;
    },
    delegate: {
      onMessage: (message: Message) => {
        const { request } = message;
        messages.push({
          from: request.from.uri.toString(),
          body: request.body,
          contentType: request.getHeader('Content-Type') ?? '',
        });
        message.accept();
      },
      onInvite: (invitation: Invitation) => calls.push(invitation),
    },
  });
  await ua.start();
  const registerer = new Registerer(ua);
  await new Promise<void>((resolve, reject) => {
    registerer.stateChange.addListener((state) => {
      if (state === RegistererState.Registered) resolve();
    });
    void registerer.register({
      requestDelegate: {
        onReject: (response) => reject(new Error(`${uri} did not register: ${response.message.statusCode}`)),
      },
    });
  });
  const reaches = (session: Session, state: SessionState) =>
    new Promise<void>((resolve) => {
      if (session.state === state) return resolve();
      const listener = (s: SessionState) => {
        if (s !== state) return;
        session.stateChange.removeListener(listener);
        resolve();
      };
      session.stateChange.addListener(listener);
    });
  return {
    ua,
    uri,
    nextMessage: messages.next,
    nextCall: calls.next,
    send: (target, text, contentType = 'text/plain') =>
      new Promise((resolve) => {
        const messager = new Messager(ua, UserAgent.makeURI(target)!, text, contentType);
        void messager.message({
          requestDelegate: {
            onAccept: (r) => resolve(r.message.statusCode ?? 0),
            onReject: (r) => resolve(r.message.statusCode ?? 0),
          },
        });
      }),
    call: (target) => {
      const session = new Inviter(ua, UserAgent.makeURI(target)!);
      const final = new Promise<number>((resolve) => {
        void session.invite({
          requestDelegate: {
            onAccept: (r) => resolve(r.message.statusCode ?? 0),
            onReject: (r) => resolve(r.message.statusCode ?? 0),
          },
        });
      });
      return { session, final };
    },
    remote: (session) => handlers.get(session)?.remote ?? [],
    reaches,
    stop: async () => {
      await registerer.unregister().catch(() => {});
      await ua.stop();
    },
  };
}
