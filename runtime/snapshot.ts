import { ProtoflyError } from '../core/errors.js';

/**
 * A stub's snapshot crosses from one version's instance to another's in a live swap (see
 * {@link Stub.snapshot}): it must be plain JSON, nested and sized within reason, whatever host
 * produced it. The Node worker host already hands over parsed JSON; another host, or an inline
 * one, might not.
 */

/** Nesting a snapshot may have at most. */
const MAX_DEPTH = 64;
/** Values (of any kind) a snapshot may hold at most. */
const MAX_VALUES = 200_000;

/**
 * Checks that `value` is plain JSON: null, booleans, finite numbers, strings, arrays and plain
 * objects, at most 64 deep and 200 000 values.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming the JSON pointer of the first offending value.
 */
export function assertSnapshot(value: unknown, what: string): void {
  let count = 0;
  const visit = (v: unknown, pointer: string, depth: number): void => {
    if (++count > MAX_VALUES) fail(what, pointer, `holds more than ${MAX_VALUES} values`);
    if (depth > MAX_DEPTH) fail(what, pointer, `is nested more than ${MAX_DEPTH} deep`);
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) fail(what, pointer, `is ${v}, not a JSON number`);
      return;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) visit(v[i], `${pointer}/${i}`, depth + 1);
      return;
    }
    if (typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) fail(what, pointer, 'is not a plain object');
      for (const [key, item] of Object.entries(v)) {
        visit(item, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1);
      }
      return;
    }
    fail(what, pointer, `is of type ${typeof v}, not JSON`);
  };
  visit(value, '', 0);
}

function fail(what: string, pointer: string, why: string): never {
  throw new ProtoflyError('PF_ERR_SCHEMA', `${what}: ${pointer || '(the snapshot)'} ${why}`, { pointer });
}
