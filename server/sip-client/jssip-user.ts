import { rootCertificates } from 'node:tls';
import type { RTCSession } from 'jssip/lib/RTCSession.js';
import type { IncomingMessageEvent, RTCSessionEvent, UA } from 'jssip/lib/UA.js';
import WebSocket from 'ws';
import { ProtoflyError } from '../../core/errors.js';
import { installSdpPeerConnection, NO_MEDIA } from './sdp-peer-connection.js';

/**
 * JsSIP 3.13 in Node as a real third-party SIP user agent: the peer of the SIP interop tests,
 * the Dave of `protofly demo --sip`, the baseline of the Kamailio benchmark. JsSIP is a
 * development dependency, loaded when first asked for.
 */
type JsSip = typeof import('jssip');

async function loadJsSip(): Promise<JsSip> {
  let JsSIP: JsSip;
  try {
    JsSIP = (await import('jssip')).default;
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `JsSIP is not installed (a development dependency: npm install): ${(err as Error).message}`,
    );
  }
  // Node 20 has no global WebSocket, and JsSIP opens `new WebSocket(url, 'sip')` on the global.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  installSdpPeerConnection();
  JsSIP.debug.disable('JsSIP:*');
  return JsSIP;
}

/** A chat JsSIP received. */
export interface Received {
  readonly from: string;
  readonly displayName: string;
  readonly body: string;
  readonly contentType: string;
}

export interface JsSipUser {
  readonly ua: UA;
  readonly uri: string;
  readonly messages: Received[];
  /** Calls offered to this user, in order. */
  readonly incoming: RTCSession[];
  /** Resolves with the next chat (or one already here and not yet taken). */
  nextMessage(): Promise<Received>;
  /** Resolves with the next incoming call. */
  nextCall(): Promise<RTCSession>;
  /** Sends a MESSAGE; resolves with the final status code. */
  send(target: string, text: string): Promise<number>;
  /** Calls `target` with an SDP offer. */
  call(target: string): RTCSession;
  /** Answers an incoming call with an SDP answer. */
  answer(session: RTCSession): void;
  stop(): Promise<void>;
}

/**
 * JsSIP's WebSocket interface trusting `ca` (PEM) besides Node's roots for a `wss://` server.
 * JsSIP opens its socket with `new WebSocket(url, 'sip')` on the global, synchronously in
 * `connect()`; the global is this one's only for that call.
 */
function trustingInterface(JsSIP: JsSip, url: string, ca: string): InstanceType<JsSip['WebSocketInterface']> {
  class Trusting extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { ca: [...rootCertificates, ca] });
    }
  }
  return new (class extends JsSIP.WebSocketInterface {
    override connect(): void {
      const global = globalThis as { WebSocket?: unknown };
      const before = global.WebSocket;
      global.WebSocket = Trusting;
      try {
        super.connect();
      } finally {
        global.WebSocket = before;
      }
    }
  })(url);
}

/**
 * Starts a JsSIP UA for `user@domain` at `wsUrl` (`ws://` or `wss://`; `ca` a certificate
 * authority to trust for it), registered (rejects with the cause when registration fails).
 */
export async function jssipUser(
  wsUrl: string,
  domain: string,
  user: string,
  password: string,
  options: { register?: boolean; authorizationUser?: string; ca?: string } = {},
): Promise<JsSipUser> {
  const JsSIP = await loadJsSip();
  const uri = `sip:${user}@${domain}`;
  const ua = new JsSIP.UA({
    sockets: [options.ca ? trustingInterface(JsSIP, wsUrl, options.ca) : new JsSIP.WebSocketInterface(wsUrl)],
    uri,
    password,
    ...(options.authorizationUser ? { authorization_user: options.authorizationUser } : {}),
    register: options.register ?? true,
    session_timers: false,
    connection_recovery_min_interval: 1,
    connection_recovery_max_interval: 2,
  });
  const messages: Received[] = [];
  const incoming: RTCSession[] = [];
  const waiting: { messages: ((m: Received) => void)[]; calls: ((s: RTCSession) => void)[] } = {
    messages: [],
    calls: [],
  };
  let taken = 0;
  let callsTaken = 0;
  ua.on('newMessage', (e: IncomingMessageEvent | { originator: 'local' }) => {
    if (e.originator !== 'remote') return;
    const request = e.request;
    const m = {
      from: request.from.uri.toString(),
      displayName: request.from.display_name ?? '',
      body: request.body ?? '',
      contentType: request.getHeader('Content-Type') ?? '',
    };
    messages.push(m);
    waiting.messages.shift()?.(messages[taken++]!);
  });
  ua.on('newRTCSession', (e: RTCSessionEvent) => {
    if (e.originator !== 'remote') return;
    incoming.push(e.session);
    waiting.calls.shift()?.(incoming[callsTaken++]!);
  });
  if (options.register ?? true) {
    await new Promise<void>((resolve, reject) => {
      ua.once('registered', () => resolve());
      ua.once('registrationFailed', (e) => {
        const code = e.cause === 'Authentication Error' ? 'PF_ERR_AUTH' : 'PF_ERR_DELIVERY';
        reject(new ProtoflyError(code, `${uri} did not register: ${e.cause}`, { cause: e.cause }));
      });
      ua.start();
    });
  } else {
    await new Promise<void>((resolve) => {
      ua.once('connected', () => resolve());
      ua.start();
    });
  }
  return {
    ua,
    uri,
    messages,
    incoming,
    nextMessage: () =>
      taken < messages.length
        ? Promise.resolve(messages[taken++]!)
        : new Promise((resolve) => waiting.messages.push(resolve)),
    nextCall: () =>
      callsTaken < incoming.length
        ? Promise.resolve(incoming[callsTaken++]!)
        : new Promise((resolve) => waiting.calls.push(resolve)),
    send: (target, text) =>
      new Promise((resolve) => {
        ua.sendMessage(target, text, {
          eventHandlers: {
            succeeded: (e) => resolve(e.response.status_code),
            // A local failure (timeout, transport) has no response: 0.
            failed: (e) => resolve(e.response?.status_code ?? 0),
          },
        });
      }),
    call: (target) => ua.call(target, { mediaStream: NO_MEDIA as never, pcConfig: {} }),
    answer: (session) => session.answer({ mediaStream: NO_MEDIA as never }),
    // JsSIP's stop() lingers ~2 s for its transactions; the binding is gone once it unregistered.
    stop: () =>
      new Promise<void>((resolve) => {
        if (!ua.isRegistered()) {
          ua.stop();
          return resolve();
        }
        ua.once('unregistered', () => resolve());
        ua.stop();
      }),
  };
}
