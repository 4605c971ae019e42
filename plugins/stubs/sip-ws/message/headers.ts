import { all, TOKEN } from './chars.js';
import type { HeaderCodec } from './codecs.js';
import { fail, show, within } from './fault.js';
import { headerName } from './header-names.js';
import { splitList } from './split.js';

/** One header field as it will be written: full name, value unfolded (RFC 3261 §7.3.1). */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** The door through which `parse` adds fields it has already checked, skipping the checks. */
export const appendChecked = Symbol('appendChecked');

/**
 * The header fields of a message, in order, kept as text. A typed view of a header is parsed
 * the first time it is asked for (`all`, `first`) and kept until that header changes, so a
 * path that only forwards a message never parses the headers it does not read.
 *
 * Content-Length is not among the fields: it describes the body, and `serialize` writes it.
 */
export class Headers {
  /** The fields in order; change them through the methods, which keep the typed views right. */
  readonly fields: readonly HeaderField[];
  readonly #fields: HeaderField[] = [];
  readonly #keys: string[] = [];
  #parsed: Map<string, readonly unknown[]> | undefined;

  constructor() {
    this.fields = this.#fields;
  }

  [appendChecked](name: string, key: string, value: string): void {
    this.#fields.push({ name, value });
    this.#keys.push(key);
  }

  /** The first value of header `name` (any spelling, compact forms included), as text. */
  get(name: string): string | undefined {
    const i = this.#keys.indexOf(headerName(name).key);
    return i === -1 ? undefined : this.#fields[i]!.value;
  }

  /** Every field value of header `name`, as text, in order (a list field is not split). */
  getAll(name: string): string[] {
    return this.#values(headerName(name).key);
  }

  /** True when header `name` is present. */
  has(name: string): boolean {
    return this.#keys.includes(headerName(name).key);
  }

  /** Adds a field after the others. */
  append(name: string, value: string): void {
    const field = checked(name, value);
    this.#fields.push(field);
    this.#keys.push(headerName(field.name).key);
    this.#forget(field.name);
  }

  /** Adds a field before the others (a proxy's Via or Record-Route goes on top). */
  prepend(name: string, value: string): void {
    const field = checked(name, value);
    this.#fields.unshift(field);
    this.#keys.unshift(headerName(field.name).key);
    this.#forget(field.name);
  }

  /** Replaces every field of header `name` by one with `value`, where the first one was. */
  set(name: string, value: string): void {
    this.#replace(name, [checked(name, value)]);
  }

  /** Removes every field of header `name`. */
  delete(name: string): void {
    this.#replace(name, []);
  }

  /**
   * Every value of the header `codec` reads, parsed, list fields split into their elements.
   * Parsed once, then kept until the header changes.
   *
   * @throws ProtoflyError `PF_ERR_SIP_PARSE` naming the header and value, or saying a
   * single-valued header appears more than once.
   */
  all<T>(codec: HeaderCodec<T>): readonly T[] {
    const cached = this.#parsed?.get(codec.key);
    if (cached) return cached as readonly T[];
    const out: T[] = [];
    for (let i = 0; i < this.#keys.length; i++) {
      if (this.#keys[i] !== codec.key) continue;
      if (codec.kind === 'single' && out.length > 0) {
        const n = this.#values(codec.key).length;
        fail(`${codec.name} appears ${n} times; it may appear once`, { header: codec.name });
      }
      const value = this.#fields[i]!.value;
      try {
        if (codec.kind !== 'list') out.push(codec.parse(value));
        else if (value !== '' || !codec.empty) for (const el of splitList(value)) out.push(codec.parse(el));
      } catch (err) {
        within(err, `${codec.name} header`, value, { header: codec.name });
      }
    }
    this.#parsed ??= new Map();
    this.#parsed.set(codec.key, out);
    return out;
  }

  /** The first value of the header `codec` reads, parsed; see {@link all}. */
  first<T>(codec: HeaderCodec<T>): T | undefined {
    return this.all(codec)[0];
  }

  /** Replaces header `codec.name` by one field per value, formatted; the typed view is kept as given. */
  put<T>(codec: HeaderCodec<T>, values: readonly T[]): void {
    if (codec.kind === 'single' && values.length > 1)
      fail(`${codec.name} takes one value, got ${values.length}`);
    this.#replace(
      codec.name,
      values.map((v) => checked(codec.name, codec.format(v))),
    );
    this.#parsed ??= new Map();
    this.#parsed.set(codec.key, [...values]);
  }

  #values(key: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#keys.length; i++) if (this.#keys[i] === key) out.push(this.#fields[i]!.value);
    return out;
  }

  #replace(name: string, fields: HeaderField[]): void {
    const key = headerName(name).key;
    let at = this.#keys.indexOf(key);
    if (at === -1) at = this.#keys.length;
    for (let i = this.#keys.length - 1; i >= at; i--) {
      if (this.#keys[i] === key) {
        this.#keys.splice(i, 1);
        this.#fields.splice(i, 1);
      }
    }
    this.#fields.splice(at, 0, ...fields);
    this.#keys.splice(at, 0, ...fields.map(() => key));
    this.#forget(name);
  }

  #forget(name: string): void {
    this.#parsed?.delete(headerName(name).key);
  }
}

/** A field from a caller: the name a token (written in full), the value on one line, Content-Length refused. */
function checked(name: string, value: string): HeaderField {
  if (!all(name, TOKEN)) fail(`header name ${show(name)} is not a token`);
  const full = headerName(name);
  if (full.key === 'content-length') fail('Content-Length is written by serialize from the body');
  if (/[\r\n]/.test(value)) fail(`${full.name} value ${show(value)} holds CR or LF`, { header: full.name });
  return { name: full.name, value };
}
