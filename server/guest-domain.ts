import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PolicyRules } from '../core/generated/types.js';
import { type DomainServices, publishBackends, startServices } from './backends/start-services.js';
import type { DomainKey } from './catalogue/keys.js';
import { type PublishResult, publish, readManifest } from './catalogue/publish.js';
import { createCatalogueServer } from './catalogue/server.js';
import { Policy } from './policy/policy.js';
import { type GuestNaming, type GuestService, startGuestService } from './sip-guest/guest-service.js';
import type { GuestStore } from './sip-guest/kamailio-guests.js';

/** The domain's one service: identity-static with no users of its own. */
const IDENTITY = { identity: { backend: 'identity-static', config: { users: {} } } };

export interface GuestDomainOptions {
  readonly domain: string;
  readonly key: DomainKey;
  /** The domain's data directory: its catalogue (`catalogue/`, published into and served from) and the backends it imports. */
  readonly dataDir: string;
  /** The stub the catalogue serves as the domain's default (its plugin folder). */
  readonly stubDir: string;
  /** The messaging server's WebSocket endpoint: the stub's `url`. */
  readonly serverUrl: string;
  /** Where guest credentials go: the messaging server learns them there. */
  readonly store: GuestStore;
  readonly naming?: GuestNaming;
  /** Where other domains' catalogues (and keys) are: domain → origin. Read when a token arrives. */
  readonly peers?: Readonly<Record<string, string>>;
  readonly guestTtlSeconds?: number;
  /** The domain's policy rules: who of other domains gets a guest account (server/policy). Default: all. */
  readonly policy?: PolicyRules;
  /** The guest service's certificate and key (PEM files): it listens on `wss://`, as its `guestUrl` then says. Default: plain ws. */
  readonly guestTls?: { readonly certFile: string; readonly keyFile: string };
  readonly log?: Logger;
}

export interface RunningGuestDomain {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly guestUrl: string;
  readonly published: PublishResult;
  close(): Promise<void>;
}

/**
 * A domain whose messaging server is not protofly's (Kamailio, Prosody), as its provider runs
 * the protofly side of it: a catalogue serving the server's stub, signed for this deployment
 * (its `url` the server, its `guestUrl` the guest service where its configuration has one, its
 * endpoints those two), and the guest credential
 * service that admits users of other domains (server/sip-guest), whose tokens its identity
 * service verifies. The messaging server itself runs apart. server/sip-domain.ts and
 * server/xmpp-domain.ts say which server, stub and store.
 */
export async function startGuestDomain(options: GuestDomainOptions): Promise<RunningGuestDomain> {
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
    // any domain's are; its own users are the messaging server's, so the backend has none.
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
    const policy = options.policy && new Policy(domain, options.policy, options.log);
    guests = await startGuestService({
      domain,
      verify: (token) => services.identity.verify(token),
      store: options.store,
      ...(policy ? { policy } : {}),
      ...(options.naming ? { naming: options.naming } : {}),
      ...(options.guestTtlSeconds ? { ttlSeconds: options.guestTtlSeconds } : {}),
      ...(options.guestTls ? { tls: options.guestTls } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    // The guest service goes into the stub's configuration where its schema has a place for it.
    const schema = (await readManifest(options.stubDir)).configuration?.schema as
      | { properties?: Record<string, unknown> }
      | undefined;
    const guestUrl = schema?.properties?.guestUrl ? { guestUrl: guests.url } : {};
    const published = await publish({
      pluginDir: options.stubDir,
      key,
      out: catalogueDir,
      makeDefault: true,
      deployment: {
        endpoints: [new URL(options.serverUrl).href, guests.url],
        defaults: { url: options.serverUrl, ...guestUrl },
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
