import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PolicyRules } from '../core/generated/types.js';
import { packageRoot } from '../node/package-root.js';
import type { DomainKey } from './catalogue/keys.js';
import { type RunningGuestDomain, startGuestDomain } from './guest-domain.js';
import { kamailioGuests } from './sip-guest/kamailio-guests.js';

/** The sip-ws stub's plugin folder. */
export const SIP_WS_STUB = join(packageRoot(import.meta.url), 'plugins/stubs/sip-ws');

export interface SipDomainOptions {
  readonly domain: string;
  readonly key: DomainKey;
  /** The domain's data directory: its catalogue (`catalogue/`, published into and served from) and the backends it imports. */
  readonly dataDir: string;
  /** The SIP server's WebSocket listener (RFC 7118), e.g. Kamailio's `ws://127.0.0.1:5066`. */
  readonly sipUrl: string;
  /** Kamailio's JSON-RPC URL, where guest passwords go (`http://127.0.0.1:5067/RPC`). */
  readonly rpcUrl: string;
  /** Where other domains' catalogues (and keys) are: domain → origin. Read when a token arrives. */
  readonly peers?: Readonly<Record<string, string>>;
  readonly guestTtlSeconds?: number;
  /** Who of other domains gets a guest account (server/policy). Default: all. */
  readonly policy?: PolicyRules;
  /** The guest service's certificate and key (PEM files): it listens on `wss://`, as its `guestUrl` then says. Default: plain ws. */
  readonly guestTls?: { readonly certFile: string; readonly keyFile: string };
  readonly log?: Logger;
}

export type RunningSipDomain = RunningGuestDomain;

/**
 * A domain whose messaging server is a SIP server (Kamailio), as its provider runs the
 * protofly side of it (server/guest-domain.ts): a catalogue serving the sip-ws stub, its `url`
 * the SIP server and its `guestUrl` the guest service, whose passwords go to Kamailio's guest
 * table. The SIP server itself runs apart; see test/kamailio/kamailio.cfg for what it needs.
 */
export function startSipDomain(options: SipDomainOptions): Promise<RunningSipDomain> {
  const { sipUrl, rpcUrl, ...rest } = options;
  return startGuestDomain({
    ...rest,
    stubDir: SIP_WS_STUB,
    serverUrl: sipUrl,
    store: kamailioGuests(rpcUrl),
  });
}
