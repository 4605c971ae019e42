import { ProtoflyError } from '../core/errors.js';
import { assertAddress, assertScheme, type ResolvedPolicy } from '../runtime/policy.js';
import { costOf, type HostFrame, type SocketEvent, type WorkerFrame } from './channel.js';
import type { SandboxLogger } from './host.js';
import type { HostInstance } from './instance.js';
import type { Link } from './link.js';
import type { HostSession } from './session.js';
import type { HostSocket, SocketFactory } from './sockets.js';

export interface SocketBridgeOptions {
  /** Checked again here: each address a stub connects to. */
  readonly policy: ResolvedPolicy;
  /** Largest socket text the stub may get in one frame (the channel's limit). */
  readonly maxFrameBytes: number;
  readonly log: SandboxLogger;
  readonly openSocket: SocketFactory;
}

/** The sockets the host holds for one session. */
interface SessionSockets {
  readonly session: HostSession;
  readonly sockets: Map<number, HostSocket>;
  /** Paused because the stub has a full window of socket data to take. */
  paused: boolean;
}

/**
 * The host side of the stubs' WebSockets (`ctx.connect`): checks and opens each socket a stub
 * asks for, holds it for the stub's session, forwards its events to the stub charged against
 * the session's credit (pausing the socket while the stub is behind), and closes it with the
 * session. It reaches the sandbox only through its link, so any link can reuse it.
 */
export class SocketBridge {
  readonly #link: Link;
  readonly #options: SocketBridgeOptions;
  /** By session id; made on first use, dropped when the session ends. */
  readonly #bySession = new Map<number, SessionSockets>();

  constructor(link: Link, options: SocketBridgeOptions) {
    this.#link = link;
    this.#options = options;
  }

  /**
   * Opens the socket `instance`'s stub asked for, after checking its URL against the stub's
   * endpoint allow-list and the policy (addresses, plain `ws://`), and its count against the
   * package's limit. A refusal, here or once the socket is under way (an address DNS gave, a
   * certificate the runtime does not trust), is told to the instance, and to the stub as an
   * error then a close 1006 whose reason is the code: no peer can send 1006 (RFC 6455 §7.4.1),
   * so the stub knows the runtime refused, not the far side.
   */
  connect(instance: HostInstance, frame: Extract<WorkerFrame, { t: 'connect' }>): void {
    const { sock } = frame;
    const group = this.#group(instance.session);
    const fail = (err: ProtoflyError) => {
      instance.refused(err);
      this.#toStub(group, sock, { type: 'error', message: err.message }, true);
      this.#toStub(group, sock, { type: 'close', code: 1006, reason: err.code }, true);
    };
    // The worker checked all of this already; the host checks again because it is the one
    // that opens the socket.
    const url = instance.endpoints(frame.url);
    if (url === undefined) {
      return fail(
        new ProtoflyError(
          'PF_ERR_ENDPOINT',
          `stub ${instance.stub} tried to connect to '${String(frame.url)}', outside its endpoint allow-list`,
          { url: String(frame.url), conversation: instance.id },
        ),
      );
    }
    const host = new URL(url).hostname;
    const { policy } = this.#options;
    try {
      assertAddress(host, policy, url, `stub ${instance.stub}`);
      assertScheme(url, host, policy, `stub ${instance.stub}`);
    } catch (err) {
      return fail(err as ProtoflyError);
    }
    const max = instance.limits.maxSocketsPerSession;
    const { sockets } = group;
    const protocols = frame.protocols;
    if (
      sockets.size >= max ||
      sockets.has(sock) ||
      !Array.isArray(protocols) ||
      !protocols.every((p) => typeof p === 'string')
    ) {
      return fail(
        new ProtoflyError(
          'PF_ERR_FLOOD',
          `stub ${instance.stub} asked for socket ${sock} beyond ${max} per session, or with bad protocols`,
          { conversation: instance.id },
        ),
      );
    }
    /** The runtime's refusal of the socket under way, which its close then names. */
    let refusal: ProtoflyError | undefined;
    const refused = (err: ProtoflyError) => {
      refusal ??= err;
      instance.refused(err);
    };
    try {
      const socket = this.#options.openSocket(
        url,
        protocols,
        {
          open: (protocol) => this.#toStub(group, sock, { type: 'open', protocol }),
          message: (data) => this.#toStub(group, sock, { type: 'message', data }),
          close: (code, reason) => {
            sockets.delete(sock);
            const event = refusal
              ? ({ type: 'close', code: 1006, reason: refusal.code } as const)
              : ({ type: 'close', code, reason } as const);
            this.#toStub(group, sock, event, true);
          },
          error: (message) => this.#toStub(group, sock, { type: 'error', message }),
        },
        {
          maxPayload: this.#options.maxFrameBytes,
          // DNS may answer with an address the name did not show (rebinding): checked before connecting.
          checkAddress: (address) => {
            try {
              assertAddress(address, policy, url, `stub ${instance.stub} (${host} resolved)`);
              assertScheme(url, address, policy, `stub ${instance.stub}`);
            } catch (err) {
              refused(err as ProtoflyError);
              throw err;
            }
          },
          ca: policy.ca,
          refused,
        },
      );
      sockets.set(sock, socket);
      if (group.paused) socket.pause();
    } catch (err) {
      fail(
        new ProtoflyError(
          'PF_ERR_ENDPOINT',
          `stub ${instance.stub} could not open '${url}': ${(err as Error).message}`,
          { url, conversation: instance.id },
        ),
      );
    }
  }

  /** The stub sends text on one of its session's sockets. */
  send(session: number, sock: number, data: string): void {
    this.#bySession.get(session)?.sockets.get(sock)?.send(data);
  }

  /** The stub closes one of its session's sockets. */
  close(session: number, sock: number, code: number | undefined, reason: string | undefined): void {
    const socket = this.#bySession.get(session)?.sockets.get(sock);
    try {
      socket?.close(code, reason);
    } catch (err) {
      this.#options.log.debug(
        { sandbox: this.#link.label, sock },
        `closing socket ${sock}: ${(err as Error).message}`,
      );
    }
  }

  /**
   * The session's credit toward the stub changed: pauses its sockets when the stub has more
   * than a window of socket data it has not taken yet, and resumes them once it is down to
   * half (the hysteresis keeps a busy socket from flapping).
   */
  flow(session: HostSession): void {
    this.#flow(this.#group(session));
  }

  /** The session ended: its sockets close. */
  end(session: number, code: number, reason: string): void {
    const group = this.#bySession.get(session);
    if (!group) return;
    this.#bySession.delete(session);
    closeAll(group, code, reason);
  }

  /** The sandbox is gone: every socket closes. */
  endAll(code: number, reason: string): void {
    for (const group of this.#bySession.values()) closeAll(group, code, reason);
    this.#bySession.clear();
  }

  #group(session: HostSession): SessionSockets {
    let group = this.#bySession.get(session.id);
    if (!group) {
      group = { session, sockets: new Map(), paused: false };
      this.#bySession.set(session.id, group);
    }
    return group;
  }

  /** Forwards a socket event to the stub, charging its session (socket data cannot be refused, so the socket pauses instead). */
  #toStub(group: SessionSockets, sock: number, event: SocketEvent, always = false): void {
    if (!always && !group.sockets.has(sock)) return;
    const { session } = group;
    const frame: HostFrame = { t: 'socket', session: session.id, sock, event };
    session.out.charge(costOf(frame));
    this.#flow(group);
    this.#link.post(frame);
  }

  #flow(group: SessionSockets): void {
    const { inFlight, windowBytes } = group.session.out;
    if (!group.paused && inFlight > windowBytes) {
      group.paused = true;
      for (const socket of group.sockets.values()) socket.pause();
    } else if (group.paused && inFlight * 2 < windowBytes) {
      group.paused = false;
      for (const socket of group.sockets.values()) socket.resume();
    }
  }
}

function closeAll(group: SessionSockets, code: number, reason: string): void {
  for (const socket of group.sockets.values()) {
    try {
      socket.close(code, reason);
    } catch {
      // Already closing: nothing more to do.
    }
  }
  group.sockets.clear();
}
