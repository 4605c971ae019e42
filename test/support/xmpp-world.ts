import { join } from 'node:path';
import { createNodeRuntime, type NodeRuntime } from '../../entry/node-runtime.js';
import { developmentPolicy } from '../../runtime/policy.js';
import type { SandboxHost } from '../../sandbox/host.js';
import { publish } from '../../server/catalogue/publish.js';
import { type XmppUser, xmppUser } from '../../server/xmpp-client/xmpp-user.js';
import { testCatalogue } from './domain-catalogue.js';
import { PASSWORDS, type Prosody, startProsody, XMPP_DOMAIN } from './prosody.js';
import { FAST } from './sip-world.js';

export type { XmppUser };

/**
 * x.example, an XMPP domain for interop tests: Prosody, and a catalogue that publishes the
 * xmpp-ws stub as the domain's default (its endpoint and `url` Prosody's WebSocket). Its users
 * talk through protofly runtimes (the stub in the sandbox) or through @xmpp/client, a
 * third-party XMPP library over RFC 7395.
 */

const XMPP_WS_STUB = join(import.meta.dirname, '../../plugins/stubs/xmpp-ws');

export interface XmppWorld {
  readonly prosody: Prosody;
  runtime(address: string, host: SandboxHost): NodeRuntime;
  xmppUser(user: string): Promise<XmppUser>;
  close(): Promise<void>;
}

export async function startXmppWorld(): Promise<XmppWorld> {
  const prosody = await startProsody({ domain: XMPP_DOMAIN, users: PASSWORDS });
  const catalogue = await testCatalogue(XMPP_DOMAIN);
  await publish({
    pluginDir: XMPP_WS_STUB,
    key: catalogue.key,
    out: catalogue.dir,
    makeDefault: true,
    deployment: { endpoints: [new URL(prosody.wsUrl).href], defaults: { url: prosody.wsUrl } },
  });
  const runtimes: NodeRuntime[] = [];
  const users: XmppUser[] = [];
  return {
    prosody,
    runtime(address, host) {
      const rt = createNodeRuntime({
        policy: developmentPolicy,
        identity: { address },
        catalogues: { [XMPP_DOMAIN]: catalogue.url },
        stubConfig: { [XMPP_DOMAIN]: { ...FAST, password: PASSWORDS[address.split('/')[3]!] } },
        dataDir: false,
        host,
      });
      runtimes.push(rt);
      return rt;
    },
    async xmppUser(user) {
      const u = await startXmppUser(prosody.wsUrl, user, PASSWORDS[user]!);
      users.push(u);
      return u;
    },
    async close() {
      await Promise.allSettled(users.map((u) => u.stop()));
      await Promise.allSettled(runtimes.map((r) => r.close()));
      await catalogue.close();
      await prosody.stop();
    },
  };
}

/** `username` of x.example through `service`, on @xmpp/client (server/xmpp-client/xmpp-user.ts). */
export const startXmppUser = (service: string, username: string, password: string): Promise<XmppUser> =>
  xmppUser(service, XMPP_DOMAIN, username, password);
