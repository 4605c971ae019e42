import { describe, expect, it } from 'vitest';
import { directedPresence, readFrame } from './stanzas.js';
import { parseXml, writeXml } from './xml.js';

const read = (xml: string) => readFrame(parseXml(xml));
const from = 'bob@x.example/phone';

describe('presence stanzas', () => {
  it.each([
    ['', 'online'],
    ['<show>chat</show>', 'online'],
    ['<show>away</show>', 'away'],
    ['<show>xa</show>', 'away'],
    ['<show>dnd</show>', 'busy'],
  ])('reads available presence %j as %s', (show, status) => {
    expect(read(`<presence xmlns="jabber:client" from="${from}">${show}</presence>`)).toMatchObject({
      verb: 'presence',
      status,
      note: undefined,
    });
  });

  it('reads unavailable as offline, keeps the note (at most 256 characters), and ignores subscriptions and probes', () => {
    expect(
      read(
        `<presence xmlns="jabber:client" from="${from}" type="unavailable"><status>${'n'.repeat(300)}</status></presence>`,
      ),
    ).toMatchObject({ verb: 'presence', status: 'offline', note: 'n'.repeat(256) });
    for (const type of ['subscribe', 'probe', 'error'])
      expect(read(`<presence xmlns="jabber:client" from="${from}" type="${type}"/>`)).toMatchObject({
        verb: 'ignored',
      });
    expect(read('<presence xmlns="jabber:client" from="no-local-part"/>')).toMatchObject({ verb: 'ignored' });
  });

  it('writes each canonical status as directed presence', () => {
    const to = 'bob@x.example';
    expect(writeXml(directedPresence(to, 'online', undefined))).toBe(
      '<presence xmlns="jabber:client" to="bob@x.example"/>',
    );
    expect(writeXml(directedPresence(to, 'busy', 'a & b'))).toBe(
      '<presence xmlns="jabber:client" to="bob@x.example"><show>dnd</show><status>a &amp; b</status></presence>',
    );
    expect(writeXml(directedPresence(to, 'offline', undefined))).toBe(
      '<presence xmlns="jabber:client" to="bob@x.example" type="unavailable"/>',
    );
  });
});

describe('message stanzas', () => {
  it('reads chats, receipts and errors, and ignores what is not a chat', () => {
    expect(
      read(
        `<message xmlns="jabber:client" type="chat" from="${from}" id="m1"><body>hi</body><request xmlns="urn:xmpp:receipts"/></message>`,
      ),
    ).toMatchObject({
      verb: 'chat',
      id: 'm1',
      text: 'hi',
      wantsReceipt: true,
      from: { local: 'bob', resource: 'phone' },
    });
    expect(
      read(
        `<message xmlns="jabber:client" from="${from}"><received xmlns="urn:xmpp:receipts" id="c1"/></message>`,
      ),
    ).toEqual({ verb: 'receipt', from: { local: 'bob', domain: 'x.example', resource: 'phone' }, id: 'c1' });
    expect(
      read(
        `<message xmlns="jabber:client" type="error" from="${from}" id="c2"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
      ),
    ).toMatchObject({ verb: 'message-error', id: 'c2', code: 404 });
    expect(
      read(`<message xmlns="jabber:client" type="groupchat" from="${from}"><body>x</body></message>`),
    ).toMatchObject({
      verb: 'ignored',
    });
    // A stanza in another namespace is not jabber:client's.
    expect(read(`<message xmlns="urn:other" from="${from}"><body>x</body></message>`)).toBeUndefined();
  });
});

describe('stream management (XEP-0198) and JMI (XEP-0353) elements', () => {
  const SM = 'urn:xmpp:sm:3';
  it('reads enabled, resumed, failed, r and a, with h a 32-bit count', () => {
    expect(read(`<enabled xmlns="${SM}" id="s1" resume="true"/>`)).toEqual({ verb: 'sm-enabled', id: 's1' });
    // Not resumable: no id to resume with.
    expect(read(`<enabled xmlns="${SM}" id="s1"/>`)).toEqual({ verb: 'sm-enabled', id: undefined });
    expect(read(`<resumed xmlns="${SM}" h="4294967295" previd="s1"/>`)).toEqual({
      verb: 'sm-resumed',
      h: 4294967295,
    });
    expect(read(`<a xmlns="${SM}" h="7"/>`)).toEqual({ verb: 'sm-ack', h: 7 });
    expect(read(`<r xmlns="${SM}"/>`)).toEqual({ verb: 'sm-request' });
    expect(
      read(
        `<failed xmlns="${SM}" h="3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
      ),
    ).toEqual({
      verb: 'sm-failed',
      h: 3,
      condition: 'item-not-found',
    });
    expect(read(`<failed xmlns="${SM}"/>`)).toEqual({ verb: 'sm-failed', h: undefined, condition: '' });
    // A count that is not one is not understood: nothing is acknowledged by it.
    for (const h of ['4294967296', '-1', '1e3', ' 1', '', '0x10'])
      expect(read(`<a xmlns="${SM}" h="${h}"/>`)).toBeUndefined();
  });

  it('reads a JMI action by its session id, and leaves one without an id a message without a body', () => {
    expect(
      read(
        `<message xmlns="jabber:client" from="${from}" type="chat"><propose xmlns="urn:xmpp:jingle-message:0" id="c1"/></message>`,
      ),
    ).toMatchObject({ verb: 'jmi', action: 'propose', sid: 'c1' });
    expect(
      read(
        `<message xmlns="jabber:client" from="${from}"><proceed xmlns="urn:xmpp:jingle-message:0"/></message>`,
      ),
    ).toMatchObject({ verb: 'ignored' });
  });
});
