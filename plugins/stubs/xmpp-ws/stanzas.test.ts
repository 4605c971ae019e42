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
