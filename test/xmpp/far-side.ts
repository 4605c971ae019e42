import { client, type Element, xml } from '@xmpp/client';
import WebSocket from 'ws';
import { presenceOnceManaged } from '../../server/xmpp-client/xmpp-user.js';
import { XMPP_DOMAIN } from '../support/prosody.js';

/**
 * The far side of the xmpp-ws stub's tests: a user of @xmpp/client (a third-party XMPP library,
 * which here also speaks XEP-0198 with Prosody) that keeps every stanza it is sent, copies
 * included, gives receipts (XEP-0184) for the chats that ask, and writes whatever stanza a test
 * builds (Jingle, XEP-0353).
 */
export interface FarSide {
  /** Its full JID once online. */
  readonly jid: string;
  /** Every chat received so far, in order, copies included: sender (full JID), id, text. */
  readonly chats: { readonly from: string; readonly id: string | undefined; readonly text: string }[];
  /** Every stanza received so far. */
  readonly stanzas: Element[];
  /** Resolves with the first stanza received (already, or later) that `match` takes. */
  next(match: (stanza: Element) => boolean): Promise<Element>;
  /** Sends a chat asking for a receipt; resolves once the receipt came. */
  chat(to: string, text: string, id: string): Promise<void>;
  send(stanza: Element): Promise<void>;
  stop(): Promise<void>;
}

/** Logs `user` in through `service` (an RFC 7395 endpoint), online with presence; `receipts` false: it gives none. */
export async function farSide(
  service: string,
  user: string,
  password: string,
  receipts = true,
): Promise<FarSide> {
  // @xmpp/client opens `new WebSocket(url, 'xmpp')` on the global, which Node 20 lacks (PEERS.md).
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const xmpp = client({ service, domain: XMPP_DOMAIN, username: user, password, resource: 'far' });
  const stanzas: Element[] = [];
  const chats: FarSide['chats'][number][] = [];
  const awaited = new Map<string, () => void>();
  const waiters = new Set<() => void>();
  // Its errors (a dropped socket) are its reconnect module's to handle.
  xmpp.on('error', () => {});
  presenceOnceManaged(xmpp, xml);
  xmpp.on('stanza', (stanza) => {
    stanzas.push(stanza);
    const received = stanza.is('message') && stanza.getChild('received', 'urn:xmpp:receipts');
    if (received) awaited.get(String(received.attrs.id))?.();
    const body = stanza.is('message') && stanza.attrs.type !== 'error' ? stanza.getChildText('body') : null;
    if (body !== null) {
      const { from, id } = stanza.attrs as { from: string; id?: string };
      chats.push({ from, id, text: body });
      if (receipts && id && stanza.getChild('request', 'urn:xmpp:receipts'))
        xmpp
          .send(xml('message', { to: from }, xml('received', { xmlns: 'urn:xmpp:receipts', id })))
          .catch(() => {});
    }
    for (const w of waiters) w();
  });
  await xmpp.start();
  return {
    jid: `${user}@${XMPP_DOMAIN}/far`,
    chats,
    stanzas,
    next: (match) =>
      new Promise((resolve) => {
        let seen = 0;
        const check = () => {
          for (; seen < stanzas.length; seen++) {
            const s = stanzas[seen]!;
            if (!match(s)) continue;
            waiters.delete(check);
            return resolve(s);
          }
        };
        waiters.add(check);
        check();
      }),
    async chat(to, text, id) {
      const receipt = new Promise<void>((resolve) => awaited.set(id, resolve));
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
    send: (stanza) => xmpp.send(stanza),
    stop: () => xmpp.stop().then(() => {}),
  };
}
