import { join } from 'node:path';
import type { Logger } from 'pino';
import { packageRoot } from '../node/package-root.js';
import { httpKeysOf } from '../plugins/backends/identity-static/keys-of.js';
import { TokenVerifier } from '../plugins/backends/identity-static/token-verifier.js';
import type { DomainKey } from './catalogue/keys.js';
import { type PublishResult, publish } from './catalogue/publish.js';
import { createCatalogueServer } from './catalogue/server.js';
import { type GuestService, startGuestService } from './sip-guest/guest-service.js';
import { kamailioGuests } from './sip-guest/kamailio-guests.js';

/** The sip-ws stub's plugin folder. */
export const SIP_WS_STUB = join(packageRoot(import.meta.url), 'plugins/stubs/sip-ws');

export interface SipDomainOptions {
  readonly domain: string;
  readonly key: DomainKey;
  /** The catalogue directory (published into, served from). */
  readonly catalogueDir: string;
  /** The SIP server's WebSocket listener (RFC 7118), e.g. Kamailio's `ws://127.0.0.1:5066`. */
  readonly sipUrl: string;
  /** Kamailio's JSON-RPC URL, where guest passwords go (`http://127.0.0.1:5067/RPC`). */
  readonly rpcUrl: string;
  /** Where other domains' catalogues (and keys) are: domain → origin. Read when a token arrives. */
  readonly peers?: Readonly<Record<string, string>>;
  readonly guestTtlSeconds?: number;
  readonly log?: Logger;
}

export interface RunningSipDomain {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly guestUrl: string;
  readonly published: PublishResult;
  close(): Promise<void>;
}

/**
 * A domain whose messaging server is a SIP server (Kamailio), as its provider runs the
 * protofly side of it: a catalogue serving the sip-ws stub, signed for this deployment (its
 * `url` the SIP server, its `guestUrl` and endpoints the two places it may connect to), and the
 * guest credential service that admits users of other domains (server/sip-guest). The SIP
 * server itself runs apart; see test/kamailio/kamailio.cfg for what it needs.
 */
export async function startSipDomain(options: SipDomainOptions): Promise<RunningSipDomain> {
  const { domain, key } = options;
  const verifier = new TokenVerifier({
    domain,
    keys: { keys: [key.publicJwk] },
    keysOf: httpKeysOf({ origins: options.peers ?? {} }),
  });
  const guests: GuestService = await startGuestService({
    domain,
    verify: (token) => verifier.verify(token),
    store: kamailioGuests(options.rpcUrl),
    ...(options.guestTtlSeconds ? { ttlSeconds: options.guestTtlSeconds } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const catalogue = createCatalogueServer({
    dir: options.catalogueDir,
    ...(options.log ? { log: options.log } : {}),
  });
  try {
    const catalogueUrl = await catalogue.listen(0, '127.0.0.1');
    const sipEndpoint = new URL(options.sipUrl).href;
    const published = await publish({
      pluginDir: SIP_WS_STUB,
      key,
      out: options.catalogueDir,
      makeDefault: true,
      deployment: {
        endpoints: [sipEndpoint, guests.url],
        defaults: { url: options.sipUrl, guestUrl: guests.url },
      },
    });
    return {
      domain,
      catalogueUrl,
      guestUrl: guests.url,
      published,
      async close() {
        await Promise.all([catalogue.close(), guests.close()]);
      },
    };
  } catch (err) {
    await Promise.allSettled([catalogue.close(), guests.close()]);
    throw err;
  }
}
