import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { parseAddress } from '../../core/address.js';
import { isProtoflyError } from '../../core/errors.js';
import {
  GUEST_CLOSE,
  GUEST_SUBPROTOCOL,
  type GuestCredentials,
  type GuestRequest,
} from '../../core/guest-protocol.js';
import type { Policy } from '../policy/policy.js';
import type { GuestStore } from './kamailio-guests.js';

/**
 * A guest's account and address here, from its name and home domain; or why that name cannot be
 * one (refused 4403).
 */
export type GuestNaming = (
  name: string,
  home: string,
  domain: string,
) => { readonly username: string; readonly aor: string } | { readonly refused: string };

/** SIP's: `sip:<name>~<home>@<domain>`, the user part %-escaped where SIP needs it. */
export const sipGuestNaming: GuestNaming = (name, home, domain) => {
  const username = `${name}~${home}`;
  return { username, aor: `sip:${encodeURIComponent(username)}@${domain}` };
};

export interface GuestServiceOptions {
  /** The domain (and SIP digest realm) guests are admitted to. */
  readonly domain: string;
  /** How a guest is named here. Default `sipGuestNaming`. */
  readonly naming?: GuestNaming;
  /** Checks an identity token for this domain; resolves to the user address it proves (`TokenVerifier.verify`). */
  readonly verify: (token: string) => Promise<string>;
  readonly store: GuestStore;
  /**
   * The domain's policy: a foreign user it refuses everything here (Policy.admits) gets no
   * guest account (closed 4403). Default: every foreign user is admitted.
   */
  readonly policy?: Policy;
  /** How long a guest password is good for, in seconds. Default 3600. */
  readonly ttlSeconds?: number;
  readonly host?: string;
  readonly port?: number;
  /**
   * Listens on secure WebSocket (`wss://`) with this certificate and key (PEM files), so that
   * a deployment whose runtimes allow no plain `ws://` admits guests too. Default: plain ws.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly log?: Logger;
}

export interface GuestService {
  /** `ws://host:port/` (`wss://` with `tls`): what the sip-ws stub's `guestUrl` names. */
  readonly url: string;
  close(): Promise<void>;
}

/** How long a connection may stay without asking. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A SIP or XMPP domain's guest credential service: admits users of other domains for a while.
 *
 * A user of a.example proves who they are with an identity token a.example issued for this
 * domain (audience), verified against a.example's published keys. They get a digest username
 * and AOR of their own in this domain's guest namespace, `<name>~<home domain>` (`~` never
 * appears in a domain name, so the mapping cannot collide, and this domain's own users have
 * no `~`), as `naming` says (unless the domain's `policy` refuses them everything here: 4403
 * `PF_ERR_FORBIDDEN`, which the sip-ws stub fails with), and a random password good for `ttlSeconds`, which the SIP or XMPP
 * server learns through `store` (server/xmpp-guest for Prosody). Asking again while it is good returns the same password with its time renewed, so
 * two devices of one guest do not lock each other out. A token of this domain's own users is
 * refused: they register with their own password.
 */
export async function startGuestService(options: GuestServiceOptions): Promise<GuestService> {
  const ttl = options.ttlSeconds ?? 3600;
  const naming = options.naming ?? sipGuestNaming;
  const issued = new Map<string, { password: string; until: number }>();
  const host = options.host ?? '127.0.0.1';
  const tls = options.tls;
  const server = tls
    ? createHttpsServer({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) })
    : createHttpServer();
  const wss = new WebSocketServer({
    server,
    maxPayload: 16 * 1024,
    handleProtocols: (protocols) => (protocols.has(GUEST_SUBPROTOCOL) ? GUEST_SUBPROTOCOL : false),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });

  const admit = async (token: string): Promise<GuestCredentials | { close: number; reason: string }> => {
    let address: string;
    try {
      address = await options.verify(token);
    } catch (err) {
      const code = isProtoflyError(err) ? err.code : 'PF_ERR_AUTH';
      if (code === 'PF_ERR_FETCH')
        return { close: GUEST_CLOSE.UNAVAILABLE, reason: 'the home domain keys cannot be had now' };
      return { close: code === 'PF_ERR_FORBIDDEN' ? GUEST_CLOSE.FORBIDDEN : GUEST_CLOSE.AUTH, reason: code };
    }
    const { domain, path } = parseAddress(address);
    if (domain === options.domain) {
      return {
        close: GUEST_CLOSE.FORBIDDEN,
        reason: `${address} is a user here: register with your password`,
      };
    }
    const decision = options.policy?.admits(address);
    if (decision && !decision.allowed) {
      return { close: GUEST_CLOSE.FORBIDDEN, reason: `PF_ERR_FORBIDDEN: policy rule '${decision.rule}'` };
    }
    const named = naming(decoded(path[0]!), domain, options.domain);
    if ('refused' in named) return { close: GUEST_CLOSE.FORBIDDEN, reason: named.refused };
    const { username, aor } = named;
    const now = Date.now();
    const live = issued.get(username);
    const password = live && live.until > now ? live.password : randomBytes(18).toString('base64url');
    try {
      await options.store.set(username, password, ttl);
    } catch (err) {
      options.log?.warn({ err, username }, 'guest not stored in the server');
      return { close: GUEST_CLOSE.UNAVAILABLE, reason: 'the server did not take the guest' };
    }
    issued.set(username, { password, until: now + ttl * 1000 });
    for (const [name, g] of issued) if (g.until <= now) issued.delete(name);
    options.log?.info({ guest: address, username }, 'guest admitted');
    return { t: 'credentials', username, password, aor, realm: options.domain, expires: ttl };
  };

  wss.on('connection', (ws) => {
    const timer = setTimeout(() => ws.close(GUEST_CLOSE.BAD_REQUEST, 'no request'), REQUEST_TIMEOUT_MS);
    ws.once('message', (data) => {
      clearTimeout(timer);
      let request: Partial<GuestRequest>;
      try {
        request = JSON.parse(String(data));
      } catch {
        return ws.close(GUEST_CLOSE.BAD_REQUEST, 'not JSON');
      }
      if (request?.t !== 'guest' || typeof request.token !== 'string') {
        return ws.close(GUEST_CLOSE.BAD_REQUEST, 'expected {"t":"guest","token":...}');
      }
      void admit(request.token).then((result) => {
        if ('close' in result) return ws.close(result.close, result.reason);
        ws.send(JSON.stringify(result));
        ws.close(1000);
      });
    });
    ws.on('close', () => clearTimeout(timer));
  });

  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'wss' : 'ws'}://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => server.close(() => resolve()));
      }),
  };
}

/** An address segment unescaped; as written when its escapes are not UTF-8. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
