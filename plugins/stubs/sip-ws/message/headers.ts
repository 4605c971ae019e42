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
 * The header fields of a message, in order, kept as text. A typed view of a field is parsed
 * the first time it is asked for (`all`, `first`) and kept with the field until it changes, so
 * a path that only forwards a message never parses the headers it does not read.
 *
 * Content-Length is not among the fields: it describes the body, and `serialize` writes it.
 */
export class Headers {
  /** The fields in order; change them through the methods, which keep the typed views right. */
  readonly fields: readonly HeaderField[];
  readonly #fields: HeaderField[] = [];
  readonly #keys: string[] = [];
  /** Per field: the codec that parsed it and what it gave (its list elements), or undefined. */
  readonly #parsedBy: (HeaderCodec<unknown> | undefined)[] = [];
  readonly #parsed: (readonly unknown[] | undefined)[] = [];

  constructor() {
    this.fields = this.#fields;
  }

  [appendChecked](name: string, key: string, value: string): void {
    this.#fields.push({ name, value });
    this.#keys.push(key);
    this.#parsedBy.push(undefined);
    this.#parsed.push(undefined);
  }

  /** The first value of header `name` (any spelling, compact forms included), as text. */
  get(name: string): string | undefined {
    const i = this.#keys.indexOf(headerName(name).key);
    return i === -1 ? undefined : this.#fields[i]!.value;
  }

  /** Every field value of header `name`, as text, in order (a list field is not split). */
  getAll(name: string): string[] {
    const key = headerName(name).key;
    const out: string[] = [];
    for (let i = 0; i < this.#keys.length; i++) if (this.#keys[i] === key) out.push(this.#fields[i]!.value);
    return out;
  }

  /** True when header `name` is present. */
  has(name: string): boolean {
    return this.#keys.includes(headerName(name).key);
  }

  /** Adds a field after the others. */
  append(name: string, value: string): void {
    const field = checked(name, value);
    this.#insert(this.#fields.length, [field], headerName(field.name).key);
  }

  /** Adds a field before the others (a proxy's Via or Record-Route goes on top). */
  prepend(name: string, value: string): void {
    const field = checked(name, value);
    this.#insert(0, [field], headerName(field.name).key);
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
   * Each field is parsed once, then kept until it changes.
   *
   * @throws ProtoflyError `PF_ERR_SIP_PARSE` naming the header and value, or saying a
   * single-valued header appears more than once.
   */
  all<T>(codec: HeaderCodec<T>): readonly T[] {
    let found: readonly T[] | undefined;
    let merged: T[] | undefined;
    for (let i = 0; i < this.#keys.length; i++) {
      if (this.#keys[i] !== codec.key) continue;
      if (found !== undefined && codec.kind === 'single') {
        const n = this.getAll(codec.name).length;
        fail(`${codec.name} appears ${n} times; it may appear once`, { header: codec.name });
      }
      const values = this.#parse(i, codec);
      if (found === undefined) {
        found = values;
      } else {
        merged ??= [...found];
        merged.push(...values);
      }
    }
    return merged ?? found ?? [];
  }

  /** The first value of the header `codec` reads, parsed; see {@link all}. */
  first<T>(codec: HeaderCodec<T>): T | undefined {
    return this.all(codec)[0];
  }

  /** Replaces header `codec.name` by one field per value, formatted; the typed views are kept as given. */
  put<T>(codec: HeaderCodec<T>, values: readonly T[]): void {
    if (codec.kind === 'single' && values.length > 1)
      fail(`${codec.name} takes one value, got ${values.length}`);
    const at = this.#replace(
      codec.name,
      values.map((v) => checked(codec.name, codec.format(v))),
    );
    values.forEach((v, i) => {
      this.#parsedBy[at + i] = codec as HeaderCodec<unknown>;
      this.#parsed[at + i] = [v];
    });
  }

  /** The values of field `i` as `codec` reads them, parsed now or earlier. */
  #parse<T>(i: number, codec: HeaderCodec<T>): readonly T[] {
    if (this.#parsedBy[i] === codec) return this.#parsed[i] as readonly T[];
    const value = this.#fields[i]!.value;
    let values: T[];
    try {
      if (codec.kind !== 'list') values = [codec.parse(value)];
      else if (value === '' && codec.empty) values = [];
      else values = splitList(value).map((el) => codec.parse(el));
    } catch (err) {
      return within(err, `${codec.name} header`, value, { header: codec.name });
    }
    this.#parsedBy[i] = codec as HeaderCodec<unknown>;
    this.#parsed[i] = values;
    return values;
  }

  #insert(at: number, fields: HeaderField[], key: string): void {
    this.#fields.splice(at, 0, ...fields);
    this.#keys.splice(at, 0, ...fields.map(() => key));
    this.#parsedBy.splice(at, 0, ...fields.map(() => undefined));
    this.#parsed.splice(at, 0, ...fields.map(() => undefined));
  }

  /** Removes the fields of header `name`, puts `fields` where the first one was; returns that index. */
  #replace(name: string, fields: HeaderField[]): number {
    const key = headerName(name).key;
    let at = this.#keys.indexOf(key);
    if (at === -1) at = this.#keys.length;
    for (let i = this.#keys.length - 1; i >= at; i--) {
      if (this.#keys[i] !== key) continue;
      for (const list of [this.#fields, this.#keys, this.#parsedBy, this.#parsed]) list.splice(i, 1);
    }
    this.#insert(at, fields, key);
    return at;
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
