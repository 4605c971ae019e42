import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { NS } from '../../plugins/stubs/xmpp-ws/stanzas.js';
import { parseXml, textOf, writeXml } from '../../plugins/stubs/xmpp-ws/xml.js';
import { XMPP_DOMAIN } from './prosody.js';

/**
 * A scripted XMPP server for the hostile server of the conformance suite
 * (sandbox/node/conformance/hostile-server.ts) and the stub's timer tests: it logs any user in
 * with password `pw` by SCRAM-SHA-1 done right (the stub checks the server's signature), binds
 * a resource, and answers pings while `pings.answer` says so. `SAMPLES` are frames such a server
 * sends a bound client.
 */

const stream = (...children: string[]) =>
  `<stream:features xmlns:stream="${NS.streams}">${children.join('')}</stream:features>`;
const OPEN = `<open xmlns="${NS.framing}" from="${XMPP_DOMAIN}" id="s1" version="1.0"/>`;
const MECHANISMS = stream(`<mechanisms xmlns="${NS.sasl}"><mechanism>SCRAM-SHA-1</mechanism></mechanisms>`);
const BIND = stream(`<bind xmlns="${NS.bind}"/>`);
const from = 'bob@x.example/phone';

/** What an XMPP server sends a bound client: chats, receipts, errors, pings, presence, stream ends. */
export const SAMPLES = [
  `<message xmlns="jabber:client" type="chat" from="${from}" to="alice@x.example" id="m1"><body>hello &amp; 😀</body><request xmlns="urn:xmpp:receipts"/></message>`,
  `<message xmlns="jabber:client" from="${from}" id="r1"><received xmlns="urn:xmpp:receipts" id="c1"/></message>`,
  `<message xmlns="jabber:client" type="error" from="bob@x.example" id="c2"><error type="cancel"><service-unavailable xmlns="${NS.stanzas}"/></error></message>`,
  `<iq xmlns="jabber:client" type="get" from="x.example" id="p1"><ping xmlns="urn:xmpp:ping"/></iq>`,
  `<iq xmlns="jabber:client" type="set" from="x.example" id="q1"><query xmlns="jabber:iq:roster"/></iq>`,
  `<iq xmlns="jabber:client" type="result" id="ping1"/>`,
  `<presence xmlns="jabber:client" from="${from}"/>`,
  `<stream:error xmlns:stream="${NS.streams}"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
  `<close xmlns="${NS.framing}"/>`,
  MECHANISMS,
  `<success xmlns="${NS.sasl}">dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9</success>`,
];

/**
 * A server that logs any user in with password `pw`: SCRAM-SHA-1 done right (the stub checks
 * the server's signature), then binding. One exchange at a time, as the suite connects one stub.
 */
export function xmppScript(pings: { answer: boolean } = { answer: true }) {
  const salt = randomBytes(16);
  const iterations = 4096;
  let firstBare = '';
  let serverFirst = '';
  /** SASL succeeded: the next <open/> is the stream restart, answered with binding. */
  let authenticated = false;
  const hmac = (key: Buffer, data: string) => createHmac('sha1', key).update(data).digest();
  return (frame: string): string[] => {
    const el = parseXml(frame);
    const data = () => Buffer.from(textOf(el), 'base64').toString();
    if (el.name === 'open') {
      const features = authenticated ? BIND : MECHANISMS;
      authenticated = false;
      return [OPEN, features];
    }
    if (el.name === 'auth') {
      authenticated = false;
      firstBare = data().slice(3);
      const nonce = firstBare.split(',')[1]!.slice(2);
      serverFirst = `r=${nonce}srv,s=${salt.toString('base64')},i=${iterations}`;
      return [writeXml(['challenge', { xmlns: NS.sasl }, Buffer.from(serverFirst).toString('base64')])];
    }
    if (el.name === 'response') {
      const finalBare = data().split(',p=')[0]!;
      const salted = pbkdf2Sync('pw', salt, iterations, 20, 'sha1');
      const authMessage = `${firstBare},${serverFirst},${finalBare}`;
      const v = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
      // The client's proof is not checked (a hostile server's choice); its next <open/> is the restart.
      authenticated = true;
      return [writeXml(['success', { xmlns: NS.sasl }, Buffer.from(`v=${v}`).toString('base64')])];
    }
    if (el.name === 'iq' && el.attrs.get('type') === 'get' && pings.answer) {
      return [`<iq xmlns="jabber:client" type="result" id="${el.attrs.get('id')}" from="${XMPP_DOMAIN}"/>`];
    }
    if (el.name === 'iq' && el.attrs.get('id') === 'bind') {
      return [
        `<iq xmlns="jabber:client" type="result" id="bind"><bind xmlns="${NS.bind}"><jid>alice@x.example/r</jid></bind></iq>`,
      ];
    }
    return [];
  };
}
