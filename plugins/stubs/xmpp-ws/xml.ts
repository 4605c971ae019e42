import { ProtoflyError } from 'protofly/stub';

/**
 * The XML of XMPP over WebSocket (RFC 7395 §3.3.3: each WebSocket message is one complete
 * element), read strictly and written escaped. RFC 6120 §11.1 restricts XMPP's XML: no comments,
 * processing instructions, DTDs or entity references beyond the five predefined ones (and
 * character references), and this reader refuses them all, as it refuses CDATA sections, which
 * servers do not send. Namespaces are resolved: an element is its local name and namespace URI;
 * a prefix nobody declared is refused. A character scanner, not regular expressions: every
 * branch of the grammar is a test of one character.
 */

/** An element, its namespace resolved. `attrs` keeps attribute names as written (`xml:lang`). */
export interface XmlElement {
  readonly name: string;
  readonly ns: string;
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: readonly XmlNode[];
}

/** Text or an element. */
export type XmlNode = XmlElement | string;

/** What a frame may hold at most: nesting and attributes per element (the frame's size bounds the rest). */
const MAX_DEPTH = 32;
const MAX_ATTRS = 64;
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Refuses the frame: `PF_ERR_FRAME`, naming what is wrong and where. */
function refuse(problem: string, at: number): never {
  throw new ProtoflyError('PF_ERR_FRAME', `XML: ${problem} at offset ${at}`, { problem, at });
}

/** Whether `c` (a code point) may appear in an XML document (XML 1.0 §2.2 Char). */
export function isXmlChar(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

/** Whether every code point of `text` may appear in XML (no NUL, no lone surrogate, ...). */
export function isXmlText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i)!;
    if (c > 0xffff) i++;
    if (!isXmlChar(c)) return false;
  }
  return true;
}

const isSpace = (c: number) => c === 0x20 || c === 0x9 || c === 0xa || c === 0xd;
/** XML 1.0 §2.3 NameStartChar, less ':' (namespaces, §3: a colon only separates a prefix). */
const isNameStart = (c: number) =>
  (c >= 0x61 && c <= 0x7a) ||
  (c >= 0x41 && c <= 0x5a) ||
  c === 0x5f ||
  (c >= 0xc0 && c <= 0xd6) ||
  (c >= 0xd8 && c <= 0xf6) ||
  (c >= 0xf8 && c <= 0x2ff) ||
  (c >= 0x370 && c <= 0x37d) ||
  (c >= 0x37f && c <= 0x1fff) ||
  (c >= 0x200c && c <= 0x200d) ||
  (c >= 0x2070 && c <= 0x218f) ||
  (c >= 0x2c00 && c <= 0x2fef) ||
  (c >= 0x3001 && c <= 0xd7ff) ||
  (c >= 0xf900 && c <= 0xfdcf) ||
  (c >= 0xfdf0 && c <= 0xfffd) ||
  (c >= 0x10000 && c <= 0xeffff);
const isNameChar = (c: number) =>
  isNameStart(c) ||
  c === 0x2d ||
  c === 0x2e ||
  (c >= 0x30 && c <= 0x39) ||
  c === 0xb7 ||
  (c >= 0x300 && c <= 0x36f) ||
  (c >= 0x203f && c <= 0x2040);

/** A start tag read, before its namespace is resolved. */
interface Tag {
  readonly qname: string;
  readonly attrs: Map<string, string>;
  readonly empty: boolean;
}

/** One frame's reader: a cursor over the text. */
class Reader {
  #at = 0;

  constructor(readonly text: string) {}

  document(): XmlElement {
    this.#spaces();
    if (this.#peek() !== 0x3c) refuse('an element expected', this.#at);
    const root = this.#element(new Map([['xml', XML_NS]]), 1);
    this.#spaces();
    if (this.#at < this.text.length) refuse('content after the element', this.#at);
    return root;
  }

  #peek(): number {
    return this.#at < this.text.length ? this.text.codePointAt(this.#at)! : -1;
  }

  #next(): number {
    const c = this.#peek();
    if (c < 0) refuse('unexpected end', this.#at);
    if (!isXmlChar(c)) refuse(`character U+${c.toString(16)} is not allowed`, this.#at);
    this.#at += c > 0xffff ? 2 : 1;
    return c;
  }

  #expect(c: number, what: string): void {
    if (this.#next() !== c) refuse(`${what} expected`, this.#at - 1);
  }

  #spaces(): boolean {
    const from = this.#at;
    while (isSpace(this.#peek())) this.#at++;
    return this.#at > from;
  }

  /** `Name` (a QName: at most one colon, neither first nor last). */
  #name(): string {
    const from = this.#at;
    if (!isNameStart(this.#peek())) refuse('a name expected', from);
    let colon = -1;
    for (;;) {
      const c = this.#peek();
      if (c === 0x3a && colon < 0) {
        colon = this.#at;
        this.#at++;
        if (!isNameStart(this.#peek())) refuse('a local name expected after the prefix', this.#at);
        continue;
      }
      if (!isNameChar(c)) break;
      this.#at += c > 0xffff ? 2 : 1;
    }
    return this.text.slice(from, this.#at);
  }

  /** `<name attr="v" ...>` or `.../>`, the `<` already seen next. */
  #tag(): Tag {
    this.#expect(0x3c, "'<'");
    const c = this.#peek();
    if (c === 0x21) refuse('comments, CDATA and DTDs are not allowed in XMPP', this.#at);
    if (c === 0x3f) refuse('processing instructions are not allowed in XMPP', this.#at);
    const qname = this.#name();
    const attrs = new Map<string, string>();
    for (;;) {
      const spaced = this.#spaces();
      const c = this.#peek();
      if (c === 0x2f) {
        this.#at++;
        this.#expect(0x3e, "'>'");
        return { qname, attrs, empty: true };
      }
      if (c === 0x3e) {
        this.#at++;
        return { qname, attrs, empty: false };
      }
      if (!spaced) refuse('a space expected before an attribute', this.#at);
      const at = this.#at;
      const name = this.#name();
      this.#spaces();
      this.#expect(0x3d, "'='");
      this.#spaces();
      const quote = this.#next();
      if (quote !== 0x22 && quote !== 0x27) refuse('a quoted value expected', this.#at - 1);
      const value = this.#text(quote);
      this.#at++;
      if (attrs.has(name)) refuse(`attribute '${name}' given twice`, at);
      if (attrs.size >= MAX_ATTRS) refuse(`more than ${MAX_ATTRS} attributes`, at);
      attrs.set(name, value);
    }
  }

  /** Character data up to `end` (a quote) or '<' (`end` -1), references replaced; stops before it. */
  #text(end: number): string {
    let out = '';
    let from = this.#at;
    for (;;) {
      const c = this.#peek();
      if (c === end || (end < 0 && c === 0x3c) || (end < 0 && c < 0)) break;
      if (c === 0x3c) refuse("'<' in an attribute value", this.#at);
      if (c === 0x26) {
        out += this.text.slice(from, this.#at);
        out += this.#reference();
        from = this.#at;
        continue;
      }
      // `]]>` may not appear in character data (XML 1.0 §2.4).
      if (c === 0x3e && end < 0 && this.text.startsWith(']]', this.#at - 2))
        refuse("']]>' in text", this.#at);
      // Line ends become LF (§2.11); in a value, any white space a space (§3.3.3).
      if (c === 0xd || (end >= 0 && (c === 0x9 || c === 0xa))) {
        out += `${this.text.slice(from, this.#at)}${end < 0 ? '\n' : ' '}`;
        this.#at += c === 0xd && this.text.charCodeAt(this.#at + 1) === 0xa ? 2 : 1;
        from = this.#at;
        continue;
      }
      this.#next();
    }
    return out + this.text.slice(from, this.#at);
  }

  /** `&name;`, `&#d;` or `&#xh;`. */
  #reference(): string {
    const at = this.#at;
    this.#at++;
    const semi = this.text.indexOf(';', this.#at);
    if (semi < 0 || semi - this.#at > 10) refuse('an unterminated reference', at);
    const ref = this.text.slice(this.#at, semi);
    this.#at = semi + 1;
    if (ref.startsWith('#')) {
      const hex = ref.startsWith('#x');
      const digits = ref.slice(hex ? 2 : 1);
      const valid = digits.length > 0 && [...digits].every((d) => (hex ? isHexDigit(d) : isDigit(d)));
      const c = valid ? Number.parseInt(digits, hex ? 16 : 10) : -1;
      if (!isXmlChar(c)) refuse(`a character reference to no XML character (&${ref};)`, at);
      return String.fromCodePoint(c);
    }
    const named = Object.hasOwn(PREDEFINED, ref) ? PREDEFINED[ref] : undefined;
    if (named === undefined) refuse(`an entity reference other than the predefined five (&${ref};)`, at);
    return named;
  }

  #element(scope: ReadonlyMap<string, string>, depth: number): XmlElement {
    if (depth > MAX_DEPTH) refuse(`elements nested deeper than ${MAX_DEPTH}`, this.#at);
    const at = this.#at;
    const tag = this.#tag();
    const inner = declarations(tag.attrs, scope, at);
    const colon = tag.qname.indexOf(':');
    const prefix = colon < 0 ? '' : tag.qname.slice(0, colon);
    const ns = inner.get(prefix);
    if (ns === undefined && prefix !== '') refuse(`prefix '${prefix}' is not declared`, at);
    for (const name of tag.attrs.keys()) {
      const c = name.indexOf(':');
      if (c > 0 && name.slice(0, c) !== 'xmlns' && !inner.has(name.slice(0, c)))
        refuse(`prefix '${name.slice(0, c)}' is not declared`, at);
    }
    const element = { name: tag.qname.slice(colon + 1), ns: ns ?? '', attrs: tag.attrs };
    if (tag.empty) return { ...element, children: [] };
    const children: XmlNode[] = [];
    for (;;) {
      const text = this.#text(-1);
      if (text) children.push(text);
      if (this.#peek() < 0) refuse(`'${tag.qname}' not closed`, this.#at);
      if (this.text.startsWith('</', this.#at)) {
        this.#at += 2;
        const end = this.#at;
        if (this.#name() !== tag.qname) refuse(`'${tag.qname}' closed by another name`, end);
        this.#spaces();
        this.#expect(0x3e, "'>'");
        return { ...element, children };
      }
      children.push(this.#element(inner, depth + 1));
    }
  }
}

const isDigit = (d: string) => d >= '0' && d <= '9';
const isHexDigit = (d: string) => isDigit(d) || (d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F');

/** The prefixes in scope inside an element: its `xmlns` and `xmlns:p` attributes over `scope`. */
function declarations(
  attrs: ReadonlyMap<string, string>,
  scope: ReadonlyMap<string, string>,
  at: number,
): ReadonlyMap<string, string> {
  let inner: Map<string, string> | undefined;
  for (const [name, value] of attrs) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
    const prefix = name === 'xmlns' ? '' : name.slice(6);
    if (prefix === 'xml' || prefix === 'xmlns') refuse(`prefix '${prefix}' may not be declared`, at);
    if (prefix !== '' && value === '') refuse(`prefix '${prefix}' undeclared (XML namespaces 1.0)`, at);
    inner ??= new Map(scope);
    inner.set(prefix, value);
  }
  return inner ?? scope;
}

/**
 * Reads one frame: one element, with nothing but white space around it.
 *
 * @throws ProtoflyError `PF_ERR_FRAME` naming what is not well-formed (or not XMPP's XML) and where.
 */
export function parseXml(text: string): XmlElement {
  return new Reader(text).document();
}

/** The first child element of `el` named `name` in namespace `ns` (`el`'s own when not given). */
export function child(el: XmlElement, name: string, ns = el.ns): XmlElement | undefined {
  for (const c of el.children) if (typeof c !== 'string' && c.name === name && c.ns === ns) return c;
  return undefined;
}

/** The text of `el`, its child elements left out. */
export function textOf(el: XmlElement): string {
  return el.children.filter((c): c is string => typeof c === 'string').join('');
}

/** A tree to write: `[name, attrs, ...children]`, text escaped on the way out. */
export type Xml = readonly [name: string, attrs: Readonly<Record<string, string | undefined>>, ...Out[]];
type Out = Xml | string;

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Kept as they are: a reader turns them into LF or a space otherwise (XML 1.0 §2.11, §3.3.3).
  '\r': '&#13;',
  '\n': '&#10;',
  '\t': '&#9;',
};

/** `text` escaped for a text node or an attribute value. Characters XML cannot hold are the caller's to refuse first ({@link isXmlText}). */
export function escapeXml(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const e = ESCAPES[text[i]!];
    if (e === undefined) continue;
    out += text.slice(from, i) + e;
    from = i + 1;
  }
  return out + text.slice(from);
}

/** Writes `tree` as XML; attributes whose value is undefined are left out. */
export function writeXml(tree: Out): string {
  if (typeof tree === 'string') return escapeXml(tree);
  const [name, attrs, ...children] = tree;
  let out = `<${name}`;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out += ` ${k}="${escapeXml(v)}"`;
  if (children.length === 0) return `${out}/>`;
  return `${out}>${children.map(writeXml).join('')}</${name}>`;
}
