import { type ErrorCode, isProtoflyError, ProtoflyError } from '../errors.js';
import { GUEST_CLOSE, GUEST_SUBPROTOCOL, type GuestCredentials } from '../guest-protocol.js';
import type { StubContext, StubSocket } from '../stub.js';
import { refusedForGood, runtimeRefusal } from './refusal.js';
import type { TimerHost } from './shared-session.js';

/** How long the guest service may take to answer. */
const GUEST_TIMEOUT_MS = 10_000;

const REFUSALS: Readonly<Record<number, ErrorCode>> = {
  [GUEST_CLOSE.BAD_REQUEST]: 'PF_ERR_FRAME',
  [GUEST_CLOSE.AUTH]: 'PF_ERR_AUTH',
  [GUEST_CLOSE.FORBIDDEN]: 'PF_ERR_FORBIDDEN',
};

/**
 * Asks the domain's guest service (`url`) for short-lived credentials (a SIP digest's, an XMPP
 * account's: core/guest-protocol.ts), proving who the
 * user is with `ctx.identity.token` (issued by the user's home domain for this domain).
 * `done` is called once: with the credentials, or with a coded error (`PF_ERR_AUTH`,
 * `PF_ERR_FORBIDDEN`, or the runtime's refusal of the socket, `PF_ERR_POLICY`, `PF_ERR_TLS`...:
 * refused for good; `PF_ERR_FETCH`: the service could not answer now).
 */
export function fetchGuestCredentials(
  ctx: StubContext,
  url: string,
  timers: TimerHost,
  done: (result: GuestCredentials | ProtoflyError) => void,
): void {
  const token = ctx.identity.token;
  if (!token) {
    done(new ProtoflyError('PF_ERR_AUTH', `no identity token for ${ctx.identity.address} to show ${url}`));
    return;
  }
  let socket: StubSocket | undefined;
  let settled = false;
  const settle = (result: GuestCredentials | ProtoflyError) => {
    if (settled) return;
    settled = true;
    timers.clearTimeout(timeout);
    try {
      socket?.close(1000);
    } catch {
      // Already closed.
    }
    done(result);
  };
  const timeout = timers.setTimeout(
    () =>
      settle(
        new ProtoflyError(
          'PF_ERR_FETCH',
          `guest service ${url} did not answer within ${GUEST_TIMEOUT_MS} ms`,
        ),
      ),
    GUEST_TIMEOUT_MS,
  );
  /** What the host said before a close: its refusal's message, when it refused. */
  let error: string | undefined;
  try {
    socket = ctx.connect(url, [GUEST_SUBPROTOCOL], {
      onOpen: () => socket?.send(JSON.stringify({ t: 'guest', token })),
      onMessage: (data) => {
        const credentials = readCredentials(data);
        settle(
          credentials ??
            new ProtoflyError(
              'PF_ERR_FRAME',
              `guest service ${url} answered ${JSON.stringify(data.slice(0, 80))}`,
            ),
        );
      },
      onClose: (code, reason) => {
        const refused = runtimeRefusal(code, reason);
        settle(
          refused
            ? // The host's message has its code in front already.
              new ProtoflyError(refused, error?.replace(/^PF_ERR_\w+: /, '') ?? `${url} refused`, { url })
            : new ProtoflyError(
                REFUSALS[code] ?? 'PF_ERR_FETCH',
                `guest service ${url} refused ${ctx.identity.address}: ${code} ${reason}`.trim(),
                { code },
              ),
        );
      },
      onError: (message) => {
        error = message;
      },
    });
  } catch (err) {
    if (isProtoflyError(err) && refusedForGood(err.code)) return settle(err);
    settle(new ProtoflyError('PF_ERR_FETCH', `cannot reach guest service ${url}: ${(err as Error).message}`));
  }
}

/** The credentials in a frame, when it holds well-formed ones. */
function readCredentials(data: string): GuestCredentials | undefined {
  let frame: Partial<GuestCredentials>;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  const texts = [frame?.username, frame?.password, frame?.aor, frame?.realm];
  if (frame?.t !== 'credentials' || texts.some((t) => typeof t !== 'string' || t === '')) return undefined;
  return typeof frame.expires === 'number' ? (frame as GuestCredentials) : undefined;
}
