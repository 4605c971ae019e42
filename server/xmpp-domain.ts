import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PolicyRules } from '../core/generated/types.js';
import { packageRoot } from '../node/package-root.js';
import type { DomainKey } from './catalogue/keys.js';
import { type RunningGuestDomain, startGuestDomain } from './guest-domain.js';
import { prosodyGuests, xmppGuestNaming } from './xmpp-guest/prosody-guests.js';

/** The xmpp-ws stub's plugin folder. */
export const XMPP_WS_STUB = join(packageRoot(import.meta.url), 'plugins/stubs/xmpp-ws');

export interface XmppDomainOptions {
  readonly domain: string;
  readonly key: DomainKey;
  /** The domain's data directory: its catalogue (`catalogue/`, published into and served from) and the backends it imports. */
  readonly dataDir: string;
  /** The XMPP server's WebSocket endpoint (RFC 7395), e.g. Prosody's `ws://127.0.0.1:5280/xmpp-websocket`. */
  readonly xmppUrl: string;
  /** Prosody's accounts directory for the domain, where guest accounts go (`Prosody.accountsDir`). */
  readonly accountsDir: string;
  /** Where other domains' catalogues (and keys) are: domain → origin. Read when a token arrives. */
  readonly peers?: Readonly<Record<string, string>>;
  readonly guestTtlSeconds?: number;
  /** Who of other domains gets a guest account (server/policy). Default: all. */
  readonly policy?: PolicyRules;
  readonly log?: Logger;
}

export type RunningXmppDomain = RunningGuestDomain;

/**
 * A domain whose messaging server is an XMPP server (Prosody, as server/prosody.ts configures
 * it), as its provider runs the protofly side of it (server/guest-domain.ts): a catalogue serving
 * the xmpp-ws stub, its `url` Prosody's WebSocket, and the guest service, which makes a guest an
 * account `<name>~<home>` in Prosody for as long as it is online (server/xmpp-guest/README.md),
 * and which the stub asks through its `guestUrl`.
 */
export function startXmppDomain(options: XmppDomainOptions): Promise<RunningXmppDomain> {
  const { xmppUrl, accountsDir, ...rest } = options;
  return startGuestDomain({
    ...rest,
    stubDir: XMPP_WS_STUB,
    serverUrl: xmppUrl,
    store: prosodyGuests(accountsDir),
    naming: xmppGuestNaming,
  });
}
