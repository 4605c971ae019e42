import WebSocket from 'ws';
import { ProtoflyError } from '../../core/errors.js';

/**
 * @xmpp/client 0.14 in Node as a real third-party XMPP client (RFC 7395): the peer of the XMPP
 * interop tests, the Erin of `protofly demo --xmpp`, the baseline of the XMPP benchmark. It is a
 * development dependency, loaded when first asked for (its types: xmpp-client.d.ts).
 */
type XmppClient = typeof import('@xmpp/client');
type Client = ReturnType<XmppClient['client']>;

async function loadXmppClient(): Promise<XmppClient> {
  let lib: XmppClient;
  try {
    lib = await import('@xmpp/client');
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `@xmpp/client is not installed (a development dependency: npm install): ${(err as Error).message}`,
    );
  }
  // @xmpp/client opens `new WebSocket(url, 'xmpp')` on the global, which Node 20 lacks (PEERS.md).
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  return lib;
}

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

/** XEP-0198's namespace. */
const SM = 'urn:xmpp:sm:3';

/**
 * Sends an @xmpp/client user's initial presence on every (re)connection, once its stream
 * management is settled. @xmpp/client 0.14 is online at resource binding, before its XEP-0198
 * `<enable/>` is answered, and counts a stanza that arrives in between (Prosody's copy of that
 * presence), which Prosody does not: the client's next `<a/>` acknowledges more than was sent,
 * and Prosody ends the stream ("Client acknowledged more stanzas than sent by server"). The
 * Prosody of protofly's tests and demo always offers stream management.
 */
export function presenceOnceManaged(xmpp: Client, xml: XmppClient['xml']): void {
  xmpp.on('element', (el) => {
    if (el.attrs.xmlns === SM && (el.name === 'enabled' || el.name === 'failed' || el.name === 'resumed'))
      xmpp.send(xml('presence')).catch(() => {});
  });
}

/**
 * `username` of `domain`, logged in with @xmpp/client through `service` (an RFC 7395 endpoint),
 * online, sending presence on every (re)connection.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when @xmpp/client is not installed.
 */
export async function xmppUser(
  service: string,
  domain: string,
  username: string,
  password: string,
): Promise<XmppUser> {
  const { client, xml } = await loadXmppClient();
  const xmpp = client({ service, domain, username, password, resource: 'interop' });
  const chats: XmppChat[] = [];
  const waiters = new Set<() => void>();
  const receipts = new Map<string, () => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  // Its errors (a dropped socket during a restart) are its reconnect module's to handle.
  xmpp.on('error', () => {});
  xmpp.on('online', notify);
  presenceOnceManaged(xmpp, xml);
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
    jid: `${username}@${domain}`,
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
