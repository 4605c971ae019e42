import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isXmlText, parseXml, textOf, writeXml, type Xml, type XmlElement, type XmlNode } from './xml.js';

/** What a tree written by `writeXml` reads back as: namespaces resolved, adjacent texts joined. */
function expected(tree: Xml | string, scope: string): XmlNode {
  if (typeof tree === 'string') return tree;
  const [name, attrs, ...children] = tree;
  const ns = attrs.xmlns ?? scope;
  const nodes: XmlNode[] = [];
  for (const c of children.map((c) => expected(c, ns))) {
    if (typeof c === 'string' && typeof nodes.at(-1) === 'string') nodes[nodes.length - 1] += c;
    else if (c !== '') nodes.push(c);
  }
  const defined = Object.entries(attrs).filter((e): e is [string, string] => e[1] !== undefined);
  return { name, ns, attrs: new Map(defined), children: nodes };
}

const xmlChar = fc
  .oneof(fc.integer({ min: 0x20, max: 0xd7ff }), fc.constantFrom(0x9, 0xa, 0xd, 0x10000, 0x1f600, 0xfffd))
  .map((c) => String.fromCodePoint(c));
const text = fc
  .array(fc.oneof(xmlChar, fc.constantFrom('<', '&', '>', '"', "'", ']]>', '\r\n')), { maxLength: 12 })
  .map((a) => a.join(''));
const name = fc.constantFrom('message', 'body', 'a', 'x-y', 'n.1', 'é');
const tree: fc.Arbitrary<Xml> = fc.letrec<{ el: Xml }>((tie) => ({
  el: fc
    .tuple(
      name,
      fc.record(
        { xmlns: fc.constantFrom('jabber:client', 'urn:x'), id: text, to: text },
        { requiredKeys: [] },
      ),
      fc.array(fc.oneof({ depthSize: 'small' }, text, tie('el')), { maxLength: 4 }),
    )
    .map(([n, attrs, children]) => [n, attrs, ...children] as Xml),
})).el;

describe('the XML reader', () => {
  it('reads back what the writer wrote, whatever the text (property)', () => {
    fc.assert(
      fc.property(tree, (t) => {
        expect(parseXml(writeXml(t))).toEqual(expected(t, ''));
      }),
    );
  });

  it('resolves namespaces: default, prefixed, inherited', () => {
    const el = parseXml(
      "<stream:features xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms><bind/></stream:features>",
    );
    expect(el).toMatchObject({ name: 'features', ns: 'http://etherx.jabber.org/streams' });
    const [mechs, bind] = el.children as XmlElement[];
    expect(mechs).toMatchObject({ name: 'mechanisms', ns: 'urn:ietf:params:xml:ns:xmpp-sasl' });
    expect(textOf((mechs!.children as XmlElement[])[0]!)).toBe('SCRAM-SHA-1');
    expect(bind).toMatchObject({ name: 'bind', ns: 'jabber:client' });
  });

  it('reads references and normalises line ends and attribute white space', () => {
    const el = parseXml('<a v="x&#9;y\nz" w=\'&quot;&apos;\'>&lt;&#x1F600;&amp;&#65;\r\nb</a>');
    expect(el.attrs.get('v')).toBe('x\ty z');
    expect(el.attrs.get('w')).toBe(`"'`);
    expect(el.children).toEqual(['<😀&A\nb']);
  });

  it.each([
    ['', 'an element expected'],
    ['text', 'an element expected'],
    ['<a>', "'a' not closed"],
    ['<a></b>', 'closed by another name'],
    ['<a/><b/>', 'content after the element'],
    ['<a><!-- c --></a>', 'comments'],
    ['<a><![CDATA[x]]></a>', 'CDATA'],
    ['<!DOCTYPE a><a/>', 'DTDs'],
    ['<?xml version="1.0"?><a/>', 'processing instructions'],
    ['<a>&ent;</a>', 'predefined five'],
    ['<a>&#0;</a>', 'no XML character'],
    ['<a>&#xD800;</a>', 'no XML character'],
    ['<a>x\u0000</a>', 'U+0'],
    ['<a>\ud800</a>', 'U+d800'],
    ['<a b="1" b="2"/>', 'given twice'],
    ['<a b="<"/>', "'<' in an attribute value"],
    ['<a b=1/>', 'quoted value'],
    ['<a b="1"c="2"/>', 'a space expected'],
    ['<p:a/>', "prefix 'p' is not declared"],
    ['<a p:b="1"/>', "prefix 'p' is not declared"],
    ['<a xmlns:xml="x"/>', 'may not be declared'],
    ['<a>]]></a>', "']]>'"],
    ['<a>&amp</a>', 'unterminated'],
    ['<1a/>', 'a name expected'],
    [`${'<a>'.repeat(40)}${'</a>'.repeat(40)}`, 'nested deeper'],
  ])('refuses %j with PF_ERR_FRAME (%s)', (frame, why) => {
    expect(() => parseXml(frame)).toThrow(
      expect.objectContaining({ code: 'PF_ERR_FRAME', message: expect.stringContaining(why) }),
    );
  });

  it('throws nothing but PF_ERR_FRAME, whatever the frame (property)', () => {
    const piece = fc.constantFrom(
      '<',
      '>',
      '/',
      '=',
      '"',
      "'",
      '&',
      ';',
      '#',
      'x',
      'a',
      ':',
      ' ',
      '!',
      '?',
      'xmlns',
      'amp',
      '\u0000',
      '\ud800',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(piece, { maxLength: 40 }).map((a) => a.join('')),
        ),
        (frame) => {
          try {
            parseXml(frame);
          } catch (err) {
            expect((err as { code?: string }).code).toBe('PF_ERR_FRAME');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('says which texts XML can hold', () => {
    expect(isXmlText('héllo 😀\n')).toBe(true);
    expect(isXmlText('a\u0000')).toBe(false);
    expect(isXmlText('\udc00')).toBe(false);
    expect(isXmlText('\uffff')).toBe(false);
  });
});
