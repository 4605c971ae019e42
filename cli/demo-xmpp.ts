import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ProtoflyError } from '../core/errors.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { generateDomainKey } from '../server/catalogue/keys.js';
import { PROSODY_INSTALL, type Prosody, prosodyInstalled, startProsody } from '../server/prosody.js';
import { type XmppUser, xmppUser } from '../server/xmpp-client/xmpp-user.js';
import { type RunningXmppDomain, startXmppDomain } from '../server/xmpp-domain.js';
import type { Row } from './ladder.js';

/**
 * x.example's part of `protofly demo --xmpp` (cli/demo-sip.ts runs the rest): Prosody, its
 * protofly side (catalogue serving the xmpp-ws stub, guest service), and Erin on @xmpp/client.
 * Alice's runtime loads x.example's stub, gets the guest account alice~a.example with her
 * a.example token, and chats with Erin both ways.
 */

export const XMPP_DOMAIN = 'x.example';
export const ERIN = `user://${XMPP_DOMAIN}/erin`;
/** Alice's guest JID there, which Erin writes to. */
const ALICE_GUEST = `alice~a.example@${XMPP_DOMAIN}`;
/** The ladder's columns it adds. */
export const XMPP_COLUMNS = ['x.example catalogue, guests', 'Prosody x.example', 'erin (@xmpp/client)'];

/** @throws ProtoflyError `PF_ERR_CONFIG` saying how to install Prosody when it is missing. */
export function requireProsody(): void {
  if (prosodyInstalled()) return;
  throw new ProtoflyError(
    'PF_ERR_CONFIG',
    `protofly demo --xmpp runs Prosody as x.example's XMPP server, and it is not installed. Install it (Debian/Ubuntu, as root):\n  ${PROSODY_INSTALL}\nthen run protofly demo --xmpp again. (protofly demo, without --xmpp, needs nothing.)`,
  );
}

export interface XmppPart {
  readonly catalogueUrl: string;
  readonly erin: XmppUser;
  /**
   * Alice's chats with Erin through `withErin`, each counted by `count` once it arrived; the
   * ladder's rows go to `rows`, x.example's columns from `first` on, Alice's `alice`.
   */
  chat(
    withErin: Conversation,
    count: <T>(sending: Promise<T>, arrived: Promise<unknown>) => Promise<T>,
    next: (c: Conversation) => Promise<Incoming>,
    rows: Row[],
    columns: { readonly alice: number; readonly first: number },
  ): Promise<void>;
  close(): Promise<void>;
}

/** Starts Prosody, x.example (its catalogue and guest service, trusting `peers`) in `dir`, and Erin. */
export async function startXmppPart(
  dir: string,
  peers: Record<string, string>,
  log: Logger,
): Promise<XmppPart> {
  let prosody: Prosody | undefined;
  let xmpp: RunningXmppDomain | undefined;
  try {
    const password = randomBytes(12).toString('base64url');
    prosody = await startProsody({ domain: XMPP_DOMAIN, users: { erin: password } });
    xmpp = await startXmppDomain({
      domain: XMPP_DOMAIN,
      key: await generateDomainKey(XMPP_DOMAIN, join(dir, XMPP_DOMAIN, 'keys')),
      dataDir: join(dir, XMPP_DOMAIN),
      xmppUrl: prosody.wsUrl,
      accountsDir: prosody.accountsDir,
      peers,
      log,
    });
    const erin = await xmppUser(prosody.wsUrl, XMPP_DOMAIN, 'erin', password);
    const [server, domain] = [prosody, xmpp];
    return {
      catalogueUrl: xmpp.catalogueUrl,
      erin,
      async chat(withErin, count, next, rows, { alice: A, first }) {
        const [CAT, PROSODY, E] = [first, first + 1, first + 2];
        const stub = `${withErin.carrier.name}@${withErin.carrier.version}`;
        rows.push(
          { from: A, to: CAT, label: 'guest? (a.example token)' },
          { from: CAT, to: A, label: 'alice~a.example, password' },
          { from: A, to: PROSODY, label: `SASL SCRAM, bind [${stub}]` },
        );
        // The 200 is Erin's receipt (XEP-0184), which her client gives.
        await count(withErin.send('Hello Erin: I loaded x.example’s XMPP stub on the fly'), erin.received(1));
        rows.push(
          { from: A, to: PROSODY, label: `<message> [${stub}]` },
          { from: PROSODY, to: E, label: '<message>' },
          { from: E, to: A, label: '<received/> (receipt)' },
        );
        await count(erin.send(ALICE_GUEST, 'Hello Alice, from Prosody', 'erin-1'), next(withErin));
        rows.push(
          { from: E, to: PROSODY, label: '<message>' },
          { from: PROSODY, to: A, label: `<message> [${stub}]` },
        );
      },
      async close() {
        await erin.stop();
        await domain.close();
        await server.stop();
      },
    };
  } catch (err) {
    await xmpp?.close();
    await prosody?.stop();
    throw err;
  }
}
