import { join } from 'node:path';
import { client, xml } from '@xmpp/client';
import WebSocket from 'ws';
import { createNodeRuntime, type NodeRuntime } from '../../entry/node-runtime.js';
import { developmentPolicy } from '../../runtime/policy.js';
import type { SandboxHost } from '../../sandbox/host.js';
import { publish } from '../../server/catalogue/publish.js';
import { testCatalogue } from './domain-catalogue.js';
import { PASSWORDS, type Prosody, startProsody, XMPP_DOMAIN } from './prosody.js';
import { FAST } from './sip-world.js';

/**
 * x.example, an XMPP domain for interop tests: Prosody, and a catalogue that publishes the
 * xmpp-ws stub as the domain's default (its endpoint and `url` Prosody's WebSocket). Its users
 * talk through protofly runtimes (the stub in the sandbox) or through @xmpp/client, a
 * third-party XMPP library over RFC 7395.
 */

const XMPP_WS_STUB = join(import.meta.dirname, '../../plugins/stubs/xmpp-ws');

/** A chat an @xmpp/client user got: who sent it (full JID), its id and text. */
export interface XmppChat {
  readonly from: string;
  readonly id: string | undefined;
  readonly text: string;
}

/** A user of @xmpp/client, online with presence, that gives receipts (XEP-0184) for what asks. */
export interface XmppUser {
  readonly jid: string;
  /** Every chat received so far, copies included. */
  readonly chats: XmppChat[];
  /** Resolves once `n` chats came. */
  received(n: number): Promise<void>;
  /** Sends a chat asking for a receipt; resolves once the receipt came. */
  send(to: string, text: string, id: string): Promise<void>;
  /** Every presence received so far: who, its type and `<show/>`. */
  readonly presences: { readonly from: string; readonly type?: string; readonly show?: string }[];
  /** Resolves once a presence from bare JID `from` came (its own resources' come too). */
  presenced(from: string): Promise<void>;
  /** Sends directed presence (RFC 6121 §4.6). */
  presence(to: string, show?: string, status?: string): Promise<void>;
  /** Resolves on its next `online` (after a reconnect). */
  online(): Promise<void>;
  stop(): Promise<void>;
}

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

/** An @xmpp/client user, online, sending presence on every (re)connection. */
export async function startXmppUser(service: string, username: string, password: string): Promise<XmppUser> {
  // @xmpp/client opens `new WebSocket(url, 'xmpp')` on the global, which Node 20 lacks (PEERS.md).
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const xmpp = client({ service, domain: XMPP_DOMAIN, username, password, resource: 'interop' });
  const chats: XmppChat[] = [];
  const waiters = new Set<() => void>();
  const receipts = new Map<string, () => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  // Its errors (a dropped socket during a restart) are its reconnect module's to handle.
  xmpp.on('error', () => {});
  xmpp.on('online', () => {
    xmpp.send(xml('presence')).catch(() => {});
    notify();
  });
  const presences: XmppUser['presences'][number][] = [];
  xmpp.on('stanza', (stanza) => {
    if (stanza.is('presence')) {
      const { from, type } = stanza.attrs as { from: string; type?: string };
      const show = stanza.getChildText('show') ?? undefined;
      presences.push({ from, ...(type ? { type } : {}), ...(show ? { show } : {}) });
      notify();
      return;
    }
    if (!stanza.is('message')) return;
    const received = stanza.getChild('received', 'urn:xmpp:receipts');
    if (received) {
      receipts.get(String(received.attrs.id))?.();
      return;
    }
    const body = stanza.getChildText('body');
    if (body === null) return;
    const { from, id } = stanza.attrs as { from: string; id?: string };
    chats.push({ from, id, text: body });
    if (id && stanza.getChild('request', 'urn:xmpp:receipts'))
      xmpp
        .send(xml('message', { to: from }, xml('received', { xmlns: 'urn:xmpp:receipts', id })))
        .catch(() => {});
    notify();
  });
  const until = (ok: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!ok()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  await xmpp.start();
  return {
    jid: `${username}@${XMPP_DOMAIN}`,
    chats,
    received: (n) => until(() => chats.length >= n),
    presences,
    presenced: (from) => until(() => presences.some((p) => p.from.startsWith(`${from}/`))),
    presence: (to, show, status) =>
      xmpp.send(
        xml(
          'presence',
          { to },
          ...(show ? [xml('show', {}, show)] : []),
          ...(status ? [xml('status', {}, status)] : []),
        ),
      ),
    async send(to, text, id) {
      const receipt = new Promise<void>((resolve) => receipts.set(id, resolve));
      await xmpp.send(
        xml(
          'message',
          { type: 'chat', to, id },
          xml('body', {}, text),
          xml('request', { xmlns: 'urn:xmpp:receipts' }),
        ),
      );
      await receipt;
    },
    online: () =>
      new Promise<void>((resolve) => {
        xmpp.once('online', () => resolve());
      }),
    stop: () => xmpp.stop().then(() => {}),
  };
}
