// Over 400 lines, for one thing: a JSON Schema walker for the safe subset. Its keywords are
// checked by one recursive function and its helpers, which share the run's step count and what
// a check evaluated; split, each part would take both as arguments.
import { ProtoflyError } from '../core/errors.js';
import type { ValidationError } from '../core/generated/validators.js';

/**
 * Checks data against a schema in the safe subset (safe-schema.ts) by walking the schema,
 * instead of compiling it into code as ajv does: a page under a Content Security Policy without
 * `unsafe-eval` cannot compile, and one walker serves Node too. It follows ajv's behaviour with
 * the options the runtime used (draft 2020-12, `useDefaults`, `allErrors: false`): defaults of
 * `properties` are filled in, except under `anyOf`, `oneOf`, `not`, an `if` condition,
 * `contains` and `propertyNames` (where a failing branch must leave no trace); the first error
 * is reported. runtime/config-schema.test.ts checks it against ajv on generated schemas.
 */

/** Checks `data` (filling in defaults); the first error, or undefined when it is valid. */
export type SchemaCheck = (data: unknown) => ValidationError | undefined;

/** Schema nodes visited in one check at most: `$ref`s can make a small schema cost exponential time. */
export const MAX_STEPS = 1_000_000;
/** Nested checks at most: a loop of `$ref`s that consumes no data would never end. */
export const MAX_NESTING = 512;

/**
 * A check for `schema`, which must have passed assertSafeSchema.
 *
 * @param what - whose schema, for the error when a check takes more than {@link MAX_STEPS}
 */
export function schemaCheck(schema: unknown, what: string): SchemaCheck {
  return (data) => {
    const run: Run = { root: schema, steps: 0, depth: 0, what };
    const r = check(run, schema, data, '', '#', false);
    return 'error' in r ? r.error : undefined;
  };
}

interface Run {
  readonly root: unknown;
  steps: number;
  depth: number;
  readonly what: string;
}

/** What a valid check evaluated, for `unevaluatedProperties` and `unevaluatedItems`. */
interface Evaluated {
  props: Set<string> | true;
  items: number | true;
}
type Result = Evaluated | { error: ValidationError };

type Schema = Record<string, unknown>;

function check(run: Run, schema: unknown, data: unknown, at: string, sp: string, composite: boolean): Result {
  if (++run.steps > MAX_STEPS) throw tooCostly(run, `takes more than ${MAX_STEPS} steps to check`);
  if (++run.depth > MAX_NESTING)
    throw tooCostly(run, `nests checks deeper than ${MAX_NESTING} (a loop of $refs?)`);
  try {
    return checkNode(run, schema, data, at, sp, composite);
  } finally {
    run.depth--;
  }
}

function tooCostly(run: Run, reason: string): ProtoflyError {
  return new ProtoflyError(
    'PF_ERR_POLICY',
    `${run.what}: configuration/schema ${reason} (policy key configurationSchema)`,
    { policy: 'configurationSchema', field: 'configuration/schema' },
  );
}

function checkNode(
  run: Run,
  schema: unknown,
  data: unknown,
  at: string,
  sp: string,
  composite: boolean,
): Result {
  const seen: Evaluated = { props: new Set(), items: 0 };
  if (schema === true) return seen;
  if (schema === false) return fail(at, sp, 'false schema', {}, 'boolean schema is false');
  const s = schema as Schema;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => isType(t, data))) {
      return fail(at, `${sp}/type`, 'type', { type: s.type }, `must be ${types.join(',')}`);
    }
  }
  // The keywords of any type first, then those of the data's type, as ajv orders them.
  if (s.const !== undefined && !equal(data, s.const)) {
    return fail(at, `${sp}/const`, 'const', { allowedValue: s.const }, 'must be equal to constant');
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).some((v) => equal(data, v))) {
    return fail(
      at,
      `${sp}/enum`,
      'enum',
      { allowedValues: s.enum },
      'must be equal to one of the allowed values',
    );
  }
  const sub = (keyword: string, sch: unknown, isComposite = composite, subAt = at, d = data) =>
    check(run, sch, d, subAt, `${sp}/${keyword}`, isComposite);
  if (typeof s.$ref === 'string') {
    const r = check(run, resolve(run, s.$ref), data, at, `${sp}/$ref`, composite);
    if ('error' in r) return r;
    merge(seen, r);
  }
  if (Array.isArray(s.allOf)) {
    for (const [i, item] of s.allOf.entries()) {
      const r = sub(`allOf/${i}`, item);
      if ('error' in r) return r;
      merge(seen, r);
    }
  }
  if (Array.isArray(s.anyOf)) {
    let any = false;
    for (const [i, item] of s.anyOf.entries()) {
      const r = sub(`anyOf/${i}`, item, true);
      if ('error' in r) continue;
      any = true;
      merge(seen, r);
    }
    if (!any) return fail(at, `${sp}/anyOf`, 'anyOf', {}, 'must match a schema in anyOf');
  }
  if (Array.isArray(s.oneOf)) {
    const passing: number[] = [];
    for (const [i, item] of s.oneOf.entries()) {
      const r = sub(`oneOf/${i}`, item, true);
      if ('error' in r) continue;
      passing.push(i);
      if (passing.length > 1) break;
      merge(seen, r);
    }
    if (passing.length !== 1) {
      const params = { passingSchemas: passing.length > 1 ? passing : null };
      return fail(at, `${sp}/oneOf`, 'oneOf', params, 'must match exactly one schema in oneOf');
    }
  }
  if (s.not !== undefined && !('error' in sub('not', s.not, true))) {
    return fail(at, `${sp}/not`, 'not', {}, 'must NOT be valid');
  }
  if (s.if !== undefined && (s.then !== undefined || s.else !== undefined)) {
    const cond = sub('if', s.if, true);
    const passed = !('error' in cond);
    if (passed) merge(seen, cond as Evaluated);
    const branch = passed ? 'then' : 'else';
    if (s[branch] !== undefined) {
      const r = sub(branch, s[branch]);
      if ('error' in r)
        return fail(at, `${sp}/if`, 'if', { failingKeyword: branch }, `must match "${branch}" schema`);
      merge(seen, r);
    }
  }
  if (typeof data === 'number') {
    const e = checkNumber(s, data, at, sp);
    if (e) return e;
  } else if (typeof data === 'string') {
    const length = codePoints(data);
    if (typeof s.maxLength === 'number' && length > s.maxLength) {
      return fail(
        at,
        `${sp}/maxLength`,
        'maxLength',
        { limit: s.maxLength },
        `must NOT have more than ${s.maxLength} characters`,
      );
    }
    if (typeof s.minLength === 'number' && length < s.minLength) {
      return fail(
        at,
        `${sp}/minLength`,
        'minLength',
        { limit: s.minLength },
        `must NOT have fewer than ${s.minLength} characters`,
      );
    }
  } else if (Array.isArray(data)) {
    const r = checkArray(run, s, data, at, sp, composite, seen);
    if (r) return r;
  } else if (data !== null && typeof data === 'object') {
    const r = checkObject(run, s, data as Record<string, unknown>, at, sp, composite, seen);
    if (r) return r;
  }
  return seen;
}

function checkNumber(s: Schema, n: number, at: string, sp: string): Result | undefined {
  const bound = (keyword: string, out: boolean, comparison: string) =>
    out
      ? fail(
          at,
          `${sp}/${keyword}`,
          keyword,
          { comparison, limit: s[keyword] },
          `must be ${comparison} ${s[keyword]}`,
        )
      : undefined;
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const max = num('maximum');
  const xmax = num('exclusiveMaximum');
  const min = num('minimum');
  const xmin = num('exclusiveMinimum');
  const mult = num('multipleOf');
  if (mult !== undefined) {
    const q = n / mult;
    // ajv's own test, so that both agree where floating point makes the answer debatable.
    if (q !== Number.parseInt(String(q), 10)) {
      return fail(at, `${sp}/multipleOf`, 'multipleOf', { multipleOf: mult }, `must be multiple of ${mult}`);
    }
  }
  return (
    (max !== undefined ? bound('maximum', n > max, '<=') : undefined) ??
    (min !== undefined ? bound('minimum', n < min, '>=') : undefined) ??
    (xmax !== undefined ? bound('exclusiveMaximum', n >= xmax, '<') : undefined) ??
    (xmin !== undefined ? bound('exclusiveMinimum', n <= xmin, '>') : undefined)
  );
}

function checkArray(
  run: Run,
  s: Schema,
  data: unknown[],
  at: string,
  sp: string,
  composite: boolean,
  seen: Evaluated,
): Result | undefined {
  if (typeof s.maxItems === 'number' && data.length > s.maxItems) {
    return fail(
      at,
      `${sp}/maxItems`,
      'maxItems',
      { limit: s.maxItems },
      `must NOT have more than ${s.maxItems} items`,
    );
  }
  if (typeof s.minItems === 'number' && data.length < s.minItems) {
    return fail(
      at,
      `${sp}/minItems`,
      'minItems',
      { limit: s.minItems },
      `must NOT have fewer than ${s.minItems} items`,
    );
  }
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
  for (let i = 0; i < Math.min(prefix.length, data.length); i++) {
    const r = check(run, prefix[i], data[i], `${at}/${i}`, `${sp}/prefixItems/${i}`, composite);
    if ('error' in r) return r;
  }
  if (prefix.length > 0 && seen.items !== true)
    seen.items = Math.max(seen.items, Math.min(prefix.length, data.length));
  if (s.items !== undefined) {
    for (let i = prefix.length; i < data.length; i++) {
      const r = check(run, s.items, data[i], `${at}/${i}`, `${sp}/items`, composite);
      if ('error' in r) return r;
    }
    seen.items = true;
  }
  if (s.contains !== undefined) {
    let count = 0;
    for (const item of data) {
      if (!('error' in check(run, s.contains, item, at, `${sp}/contains`, true))) count++;
    }
    const min = typeof s.minContains === 'number' ? s.minContains : 1;
    const max = typeof s.maxContains === 'number' ? s.maxContains : undefined;
    if (count < min || (max !== undefined && count > max)) {
      return fail(
        at,
        `${sp}/contains`,
        'contains',
        { minContains: min, ...(max === undefined ? {} : { maxContains: max }) },
        'must contain a valid item',
      );
    }
  }
  if (s.uniqueItems === true) {
    for (let j = data.length - 1; j > 0; j--) {
      for (let i = 0; i < j; i++) {
        if (equal(data[i], data[j])) {
          return fail(
            at,
            `${sp}/uniqueItems`,
            'uniqueItems',
            { i, j },
            `must NOT have duplicate items (items ## ${j} and ${i} are identical)`,
          );
        }
      }
    }
  }
  if (s.unevaluatedItems !== undefined && seen.items !== true) {
    for (let i = seen.items; i < data.length; i++) {
      const r = check(run, s.unevaluatedItems, data[i], `${at}/${i}`, `${sp}/unevaluatedItems`, composite);
      if ('error' in r)
        return fail(
          at,
          `${sp}/unevaluatedItems`,
          'unevaluatedItems',
          { limit: seen.items },
          `must NOT have more than ${seen.items} items`,
        );
    }
    seen.items = true;
  }
  return undefined;
}

function checkObject(
  run: Run,
  s: Schema,
  data: Record<string, unknown>,
  at: string,
  sp: string,
  composite: boolean,
  seen: Evaluated,
): Result | undefined {
  const properties = isObject(s.properties) ? (s.properties as Record<string, unknown>) : undefined;
  if (properties && !composite) {
    for (const [name, sch] of Object.entries(properties)) {
      const value = isObject(sch) ? (sch as Schema).default : undefined;
      // A copy: defaults are data of the schema, shared by every check.
      if (value !== undefined && data[name] === undefined) data[name] = structuredClone(value);
    }
  }
  const keys = Object.keys(data);
  if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties) {
    return fail(
      at,
      `${sp}/maxProperties`,
      'maxProperties',
      { limit: s.maxProperties },
      `must NOT have more than ${s.maxProperties} properties`,
    );
  }
  if (typeof s.minProperties === 'number' && keys.length < s.minProperties) {
    return fail(
      at,
      `${sp}/minProperties`,
      'minProperties',
      { limit: s.minProperties },
      `must NOT have fewer than ${s.minProperties} properties`,
    );
  }
  if (Array.isArray(s.required)) {
    for (const name of s.required as string[]) {
      if (data[name] === undefined) {
        return fail(
          at,
          `${sp}/required`,
          'required',
          { missingProperty: name },
          `must have required property '${name}'`,
        );
      }
    }
  }
  if (isObject(s.dependentRequired)) {
    for (const [name, needs] of Object.entries(s.dependentRequired as Record<string, string[]>)) {
      if (data[name] === undefined) continue;
      const missing = needs.find((n) => data[n] === undefined);
      if (missing !== undefined) {
        return fail(
          at,
          `${sp}/dependentRequired`,
          'dependentRequired',
          { property: name, missingProperty: missing, deps: needs.join(', '), depsCount: needs.length },
          `must have property ${missing} when property ${name} is present`,
        );
      }
    }
  }
  const evaluated = seen.props;
  if (properties) {
    for (const [name, sch] of Object.entries(properties)) {
      if (!Object.hasOwn(data, name) || data[name] === undefined) continue;
      const r = check(
        run,
        sch,
        data[name],
        `${at}/${pointerToken(name)}`,
        `${sp}/properties/${pointerToken(name)}`,
        composite,
      );
      if ('error' in r) return r;
      if (evaluated !== true) evaluated.add(name);
    }
  }
  if (s.additionalProperties !== undefined) {
    for (const name of keys) {
      if (properties && Object.hasOwn(properties, name)) continue;
      const r = check(
        run,
        s.additionalProperties,
        data[name],
        `${at}/${pointerToken(name)}`,
        `${sp}/additionalProperties`,
        composite,
      );
      if ('error' in r) {
        return s.additionalProperties === false
          ? fail(
              at,
              `${sp}/additionalProperties`,
              'additionalProperties',
              { additionalProperty: name },
              'must NOT have additional properties',
            )
          : r;
      }
    }
    seen.props = true;
  }
  if (isObject(s.dependentSchemas)) {
    for (const [name, sch] of Object.entries(s.dependentSchemas as Record<string, unknown>)) {
      if (data[name] === undefined) continue;
      const r = check(run, sch, data, at, `${sp}/dependentSchemas/${pointerToken(name)}`, composite);
      if ('error' in r) return r;
      merge(seen, r);
    }
  }
  if (s.propertyNames !== undefined) {
    for (const name of keys) {
      const r = check(run, s.propertyNames, name, at, `${sp}/propertyNames`, true);
      if ('error' in r)
        return fail(
          at,
          `${sp}/propertyNames`,
          'propertyNames',
          { propertyName: name },
          'property name must be valid',
        );
    }
  }
  if (s.unevaluatedProperties !== undefined && seen.props !== true) {
    for (const name of keys) {
      if (seen.props.has(name)) continue;
      const r = check(
        run,
        s.unevaluatedProperties,
        data[name],
        `${at}/${pointerToken(name)}`,
        `${sp}/unevaluatedProperties`,
        composite,
      );
      if ('error' in r) {
        return s.unevaluatedProperties === false
          ? fail(
              at,
              `${sp}/unevaluatedProperties`,
              'unevaluatedProperties',
              { unevaluatedProperty: name },
              'must NOT have unevaluated properties',
            )
          : r;
      }
    }
    seen.props = true;
  }
  return undefined;
}

function merge(into: Evaluated, from: Evaluated): void {
  if (from.props === true) into.props = true;
  else if (into.props !== true) for (const p of from.props) into.props.add(p);
  if (from.items === true) into.items = true;
  else if (into.items !== true) into.items = Math.max(into.items, from.items);
}

/** The schema a local `$ref` (`#`, `#/json/pointer`) names. */
function resolve(run: Run, ref: string): unknown {
  let node: unknown = run.root;
  const pointer = decodeURIComponent(ref.slice(1));
  if (pointer !== '') {
    if (!pointer.startsWith('/')) throw unresolved(run, ref);
    for (const raw of pointer.slice(1).split('/')) {
      const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, token))
        throw unresolved(run, ref);
      node = (node as Record<string, unknown>)[token];
    }
  }
  if (typeof node !== 'boolean' && !isObject(node)) throw unresolved(run, ref);
  return node;
}

function unresolved(run: Run, ref: string): ProtoflyError {
  return new ProtoflyError(
    'PF_ERR_POLICY',
    `${run.what}: configuration/schema has a $ref ${JSON.stringify(ref)} that names no schema in it (policy key configurationSchema)`,
    { policy: 'configurationSchema', field: 'configuration/schema', ref },
  );
}

function isType(type: string, data: unknown): boolean {
  switch (type) {
    case 'integer':
      return typeof data === 'number' && Number.isInteger(data);
    case 'number':
      return typeof data === 'number' && Number.isFinite(data);
    case 'array':
      return Array.isArray(data);
    case 'object':
      return isObject(data);
    case 'null':
      return data === null;
    default:
      return typeof data === type;
  }
}

function isObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Deep equality of JSON values, member order aside (as ajv's fast-deep-equal). */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => equal(v, bb[i]));
  }
  const ka = Object.keys(a);
  const bo = b as Record<string, unknown>;
  return (
    ka.length === Object.keys(bo).length &&
    ka.every((k) => Object.hasOwn(bo, k) && equal((a as Record<string, unknown>)[k], bo[k]))
  );
}

/** A string's length in code points, as JSON Schema counts it. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n++;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function fail(
  instancePath: string,
  schemaPath: string,
  keyword: string,
  params: Record<string, unknown>,
  message: string,
): { error: ValidationError } {
  return { error: { instancePath, schemaPath, keyword, params, message } };
}
