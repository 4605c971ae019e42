import { ProtoflyError } from '../core/errors.js';

/**
 * The subset of JSON Schema a remote document (a descriptor's `configuration.schema`) may use,
 * since the runtime checks configurations against it on its own thread (config-schema.ts walks
 * it; nothing is compiled): keywords whose validation is
 * linear in the data, nothing that runs a regular expression (`pattern`, `patternProperties`,
 * `format`), nothing that reaches outside the document (`$ref` other than `#...`, `$id`,
 * `$dynamicRef`), within a size and a depth. Finer rules are the stub's to check, in its sandbox.
 */

/** How big a schema may be. */
export interface SchemaBounds {
  /** Largest schema, as JSON text. */
  readonly maxBytes: number;
  /** Deepest nesting of objects and arrays. */
  readonly maxDepth: number;
}

/** The largest bounds a policy may set (`schemas/runtime-policy.schema.json`). */
export const MAX_SCHEMA_BOUNDS: SchemaBounds = { maxBytes: 1024 * 1024, maxDepth: 64 };

/** Keywords whose value is a schema. */
const SCHEMA = new Set([
  'additionalProperties',
  'items',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedProperties',
  'unevaluatedItems',
]);
/** Keywords whose value is an array of schemas. */
const SCHEMA_ARRAY = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAP = new Set(['properties', '$defs', 'dependentSchemas']);
/** Keywords whose value is data or an annotation, never a schema, and costs linear time. */
const VALUE = new Set([
  '$schema',
  '$comment',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'type',
  'enum',
  'const',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'maxItems',
  'minItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'dependentRequired',
]);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isNames = (v: unknown) => Array.isArray(v) && v.every((n) => typeof n === 'string');
/**
 * What the value of a keyword must be, where JSON Schema's meta-schema says (a schema that
 * breaks it is refused, not half-applied: the checker in config-schema.ts reads these as given).
 */
const SHAPES: Readonly<Record<string, readonly [(v: unknown) => boolean, string]>> = {
  type: [
    (v) => TYPES.has(v as string) || (Array.isArray(v) && v.length > 0 && v.every((t) => TYPES.has(t))),
    'a JSON type name or a non-empty array of them',
  ],
  enum: [Array.isArray, 'an array'],
  multipleOf: [(v) => isNumber(v) && (v as number) > 0, 'a number above 0'],
  maximum: [isNumber, 'a number'],
  exclusiveMaximum: [isNumber, 'a number'],
  minimum: [isNumber, 'a number'],
  exclusiveMinimum: [isNumber, 'a number'],
  maxLength: [isCount, 'a non-negative integer'],
  minLength: [isCount, 'a non-negative integer'],
  maxItems: [isCount, 'a non-negative integer'],
  minItems: [isCount, 'a non-negative integer'],
  maxContains: [isCount, 'a non-negative integer'],
  minContains: [isCount, 'a non-negative integer'],
  maxProperties: [isCount, 'a non-negative integer'],
  minProperties: [isCount, 'a non-negative integer'],
  required: [isNames, 'an array of property names'],
  dependentRequired: [
    (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(isNames),
    'an object of arrays of property names',
  ],
  uniqueItems: [(v) => typeof v === 'boolean', 'a boolean'],
};

/** `uniqueItems` compares every pair of items: allowed only under a `maxItems` this small. */
const MAX_UNIQUE_ITEMS = 256;

/**
 * Checks that `schema` is in the safe subset and within `bounds`.
 *
 * @throws ProtoflyError `PF_ERR_POLICY` naming the JSON pointer of the first offending keyword
 *   (under `configuration.schema`) and the policy key (`configurationSchema`).
 */
export function assertSafeSchema(schema: unknown, bounds: SchemaBounds, what: string): void {
  const bytes = JSON.stringify(schema)?.length ?? 0;
  if (bytes > bounds.maxBytes) {
    throw refusal(
      what,
      '',
      `is ${bytes} bytes of JSON, over configurationSchema.maxBytes ${bounds.maxBytes}`,
    );
  }
  walk(schema, '', 1, bounds.maxDepth, what);
}

function walk(schema: unknown, pointer: string, depth: number, maxDepth: number, what: string): void {
  if (typeof schema === 'boolean') return;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw refusal(what, pointer, 'is not a schema (an object or a boolean)');
  }
  if (depth > maxDepth)
    throw refusal(what, pointer, `nests deeper than configurationSchema.maxDepth ${maxDepth}`);
  const s = schema as Record<string, unknown>;
  for (const [key, value] of Object.entries(s)) {
    const at = `${pointer}/${pointerToken(key)}`;
    const shape = SHAPES[key];
    if (shape && !shape[0](value))
      throw refusal(what, at, `is ${JSON.stringify(value)?.slice(0, 40)}, not ${shape[1]}`);
    if (SCHEMA.has(key)) walk(value, at, depth + 1, maxDepth, what);
    else if (SCHEMA_ARRAY.has(key)) {
      if (!Array.isArray(value) || value.length === 0) {
        throw refusal(what, at, 'is not a non-empty array of schemas');
      }
      for (const [i, item] of value.entries()) walk(item, `${at}/${i}`, depth + 2, maxDepth, what);
    } else if (SCHEMA_MAP.has(key)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw refusal(what, at, 'is not an object of schemas');
      }
      for (const [name, sub] of Object.entries(value)) {
        walk(sub, `${at}/${pointerToken(name)}`, depth + 2, maxDepth, what);
      }
    } else if (key === '$ref') {
      if (typeof value !== 'string' || !value.startsWith('#')) {
        throw refusal(
          what,
          at,
          `is ${JSON.stringify(value)}: only references within the schema (#...) are allowed`,
        );
      }
    } else if (key === 'uniqueItems') {
      const max = s.maxItems;
      if (value === true && !(typeof max === 'number' && max <= MAX_UNIQUE_ITEMS)) {
        throw refusal(what, at, `needs a maxItems of at most ${MAX_UNIQUE_ITEMS} beside it`);
      }
    } else if (VALUE.has(key)) {
      // Its value is data; JSON.stringify bounded its size, and the depth counts it too.
      if (deeperThan(value, maxDepth - depth)) {
        throw refusal(what, at, `nests deeper than configurationSchema.maxDepth ${maxDepth}`);
      }
    } else {
      throw refusal(
        what,
        at,
        `uses '${key}', outside the safe subset of JSON Schema a remote document may use`,
      );
    }
  }
}

/** True when `value` nests objects or arrays more than `levels` deep (looking no deeper than that). */
function deeperThan(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levels <= 0) return true;
  return Object.values(value).some((item) => deeperThan(item, levels - 1));
}

function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function refusal(what: string, pointer: string, reason: string): ProtoflyError {
  const field = `configuration/schema${pointer}`;
  return new ProtoflyError(
    'PF_ERR_POLICY',
    `${what}: ${field} ${reason} (policy key configurationSchema, descriptor field ${field})`,
    {
      policy: 'configurationSchema',
      field,
    },
  );
}
