import { join } from 'node:path';
import type { Logger } from 'pino';
import { packageRoot } from '../node/package-root.js';
import { type DomainServices, publishBackends, startServices } from './backends/start-services.js';
import type { DomainKey } from './catalogue/keys.js';
import { type PublishResult, publish } from './catalogue/publish.js';
import { createCatalogueServer } from './catalogue/server.js';
import { type GuestService, startGuestService } from './sip-guest/guest-service.js';
import { kamailioGuests } from './sip-guest/kamailio-guests.js';

/** The domain's one service: identity-static with no users of its own. */
const IDENTITY = { identity: { backend: 'identity-static', config: { users: {} } } };

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
  /** The guest service's certificate and key (PEM files): it listens on `wss://`, as its `guestUrl` then says. Default: plain ws. */
  readonly guestTls?: { readonly certFile: string; readonly keyFile: string };
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
 * guest credential service that admits users of other domains (server/sip-guest), whose tokens
 * its identity service verifies. The SIP server itself runs apart; see
 * test/kamailio/kamailio.cfg for what it needs.
 */
export async function startSipDomain(options: SipDomainOptions): Promise<RunningSipDomain> {
  const { domain, key } = options;
  const catalogueDir = join(options.dataDir, 'catalogue');
  const catalogue = createCatalogueServer({
    dir: catalogueDir,
    ...(options.log ? { log: options.log } : {}),
  });
  let identity: DomainServices<'identity'> | undefined;
  let guests: GuestService | undefined;
  try {
    const catalogueUrl = await catalogue.listen(0, '127.0.0.1');
    // Guests' tokens are checked by the domain's identity service, from its verified backend as
    // any domain's are; its own users are Kamailio's, so the backend has none.
    await publishBackends(IDENTITY, key, catalogueDir, ['identity']);
    identity = await startServices({
      domain,
      key,
      dataDir: options.dataDir,
      catalogueUrl,
      choices: IDENTITY,
      peers: options.peers ?? {},
      only: ['identity'],
    });
    const { services } = identity;
    guests = await startGuestService({
      domain,
      verify: (token) => services.identity.verify(token),
      store: kamailioGuests(options.rpcUrl),
      ...(options.guestTtlSeconds ? { ttlSeconds: options.guestTtlSeconds } : {}),
      ...(options.guestTls ? { tls: options.guestTls } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    const sipEndpoint = new URL(options.sipUrl).href;
    const published = await publish({
      pluginDir: SIP_WS_STUB,
      key,
      out: catalogueDir,
      makeDefault: true,
      deployment: {
        endpoints: [sipEndpoint, guests.url],
        defaults: { url: options.sipUrl, guestUrl: guests.url },
      },
    });
    const [service, started] = [guests, identity];
    return {
      domain,
      catalogueUrl,
      guestUrl: guests.url,
      published,
      async close() {
        await Promise.all([catalogue.close(), service.close()]);
        await started.close();
      },
    };
  } catch (err) {
    await Promise.allSettled([catalogue.close(), guests?.close()]);
    await identity?.close();
    throw err;
  }
}
