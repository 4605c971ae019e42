import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import { schemaCheck } from './config-schema.js';
import { assertSafeSchema, MAX_SCHEMA_BOUNDS } from './safe-schema.js';

/** ajv as the runtime used it before: the reference the walker must agree with. */
const ajv = new Ajv2020({ strict: false, allErrors: false, useDefaults: true });

const NAMES = ['a', 'b', 'c', 'd/e', 'f~g'];
const name = fc.constantFrom(...NAMES);
const small = fc.integer({ min: -3, max: 6 });
/** Values that hit the generated schemas' bounds more often than any JSON would. */
const scalar = fc.oneof(
  small,
  fc.constantFrom(0.5, 2.5, -1.5),
  fc.constantFrom('', 'x', 'xy', '😀a'),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(name, tie('v'), { maxKeys: 4 }),
  ),
})).v;

/**
 * Schemas in the safe subset. Defaults only where ajv applies them the same whether it inlines
 * a schema or not (`properties` of the root, outside any `$ref`), refs only to `$defs` without
 * defaults: ajv's own answer for a default under a `$ref` depends on how it compiled the ref.
 */
const schema = (withDefaults: boolean): fc.Arbitrary<unknown> =>
  fc
    .letrec((tie) => {
      const keyword = fc.oneof(
        fc.record({
          type: fc.constantFrom('string', 'number', 'integer', 'boolean', 'null', 'object', 'array'),
        }),
        fc.record({ type: fc.subarray(['string', 'integer', 'object', 'null'], { minLength: 1 }) }),
        fc.record({ const: scalar }),
        fc.record({ enum: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
        fc.record({ minimum: small }),
        fc.record({ exclusiveMaximum: small }),
        fc.record({ maximum: small, exclusiveMinimum: small }),
        fc.record({ multipleOf: fc.constantFrom(1, 2, 0.5) }),
        fc.record({ minLength: fc.nat(2), maxLength: fc.nat(3) }),
        fc.record({ minItems: fc.nat(2), maxItems: fc.nat(4) }),
        fc.record({ uniqueItems: fc.boolean(), maxItems: fc.constant(4) }),
        fc.record(
          { prefixItems: fc.array(tie('s'), { minLength: 1, maxLength: 2 }), items: tie('s') },
          { requiredKeys: ['prefixItems'] },
        ),
        fc.record(
          { contains: tie('s'), minContains: fc.nat(2), maxContains: fc.nat(3) },
          { requiredKeys: ['contains'] },
        ),
        fc.record(
          {
            properties: fc.dictionary(name, tie('s'), { maxKeys: 3 }),
            additionalProperties: tie('s'),
            required: fc.subarray(NAMES, { maxLength: 2 }),
          },
          { requiredKeys: ['properties'] },
        ),
        fc.record({ minProperties: fc.nat(2), maxProperties: fc.nat(4) }),
        fc.record({
          dependentRequired: fc.dictionary(name, fc.subarray(NAMES, { maxLength: 2 }), { maxKeys: 2 }),
        }),
        fc.record({ dependentSchemas: fc.dictionary(name, tie('s'), { maxKeys: 2 }) }),
        fc.record({ propertyNames: fc.record({ maxLength: fc.nat(1) }) }),
        fc.record({ allOf: fc.array(tie('s'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ anyOf: fc.array(tie('s'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ oneOf: fc.array(tie('s'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ not: tie('s') }),
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's keyword.
        fc.record({ if: tie('s'), then: tie('s'), else: tie('s') }, { requiredKeys: ['if'] }),
        fc.record({
          properties: fc.dictionary(name, tie('s'), { maxKeys: 2 }),
          unevaluatedProperties: tie('s'),
        }),
        fc.record({ $ref: fc.constantFrom('#/$defs/x', '#/$defs/y') }),
      );
      return {
        s: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          fc.boolean(),
          fc.array(keyword, { minLength: 1, maxLength: 3 }).map((parts) => Object.assign({}, ...parts)),
        ),
      };
    })
    .s.chain((root) =>
      fc
        .record({
          x: fc.constantFrom<unknown>({ type: 'integer' }, { maxLength: 1 }, true),
          y: fc.constantFrom<unknown>(
            { properties: { a: { $ref: '#/$defs/x' } } },
            { not: { $ref: '#/$defs/x' } },
          ),
          defaults: withDefaults ? fc.dictionary(name, value, { maxKeys: 2 }) : fc.constant({}),
        })
        .map(({ x, y, defaults }) => {
          if (typeof root !== 'object' || root === null) return root;
          const r: Record<string, unknown> = { ...(root as Record<string, unknown>), $defs: { x, y } };
          const props = { ...((r.properties as Record<string, unknown>) ?? {}) };
          for (const [n, d] of Object.entries(defaults)) {
            const p = props[n];
            props[n] = typeof p === 'object' && p !== null ? { ...p, default: d } : { default: d };
          }
          if (Object.keys(props).length > 0) r.properties = props;
          return r;
        }),
    );

/** True when some `if` in `s` holds `unevaluatedProperties` or `unevaluatedItems`, at any depth. */
function unevaluatedUnderIf(s: unknown, underIf = false): boolean {
  if (s === null || typeof s !== 'object') return false;
  if (underIf && !Array.isArray(s) && ('unevaluatedProperties' in s || 'unevaluatedItems' in s)) return true;
  return Object.entries(s).some(([k, v]) => unevaluatedUnderIf(v, underIf || k === 'if'));
}

/** True when some schema in `s` has both `contains` and `prefixItems`. */
function containsBesidePrefixItems(s: unknown): boolean {
  if (s === null || typeof s !== 'object') return false;
  if (!Array.isArray(s) && 'contains' in s && 'prefixItems' in s) return true;
  return Object.values(s).some(containsBesidePrefixItems);
}

describe('configuration schema walker', () => {
  it('agrees with ajv (draft 2020-12, useDefaults) on validity and on the data it fills in', () => {
    fc.assert(
      fc.property(schema(true), value, (s, data) => {
        // ajv's own bug: beside prefixItems, `contains` passes an empty array (the walker follows
        // the specification: no item matches, under minContains 1).
        fc.pre(!containsBesidePrefixItems(s));
        // ajv's own bug: an `if` that fails still counts as having evaluated what its own
        // `unevaluatedProperties` covered, once the `else` has a keyword ({if: {unevaluatedProperties:
        // false}, else: {minLength: 0}, unevaluatedProperties: false} passes {a: null}); the
        // specification drops a failed subschema's annotations, as the walker does.
        fc.pre(!unevaluatedUnderIf(s));
        assertSafeSchema(s, MAX_SCHEMA_BOUNDS, 'generated');
        const validate = ajv.compile(s as object);
        if (typeof s === 'object') ajv.removeSchema(s as object);
        const theirs = structuredClone(data);
        const mine = structuredClone(data);
        const error = schemaCheck(s, 'generated')(mine);
        let expected: boolean;
        try {
          expected = validate(theirs);
        } catch (err) {
          // ajv's own bug: some of its generated code throws (`contains: false` under `not` and
          // `anyOf` refers to a variable it never declared). No reference answer to compare with.
          expect(err).toBeInstanceOf(ReferenceError);
          return;
        }
        expect(error === undefined).toBe(expected);
        if (expected) expect(mine).toEqual(theirs);
        else expect(error?.keyword).toBeTypeOf('string');
      }),
      { numRuns: 3000 },
    );
  }, 120_000);

  it('names the offending setting as ajv would: pointer, keyword, property', () => {
    const s = {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: { url: { type: 'string' }, n: { type: 'integer', minimum: 1 } },
    };
    const check = schemaCheck(s, 'x');
    expect(check({ n: 1 })).toMatchObject({ keyword: 'required', params: { missingProperty: 'url' } });
    expect(check({ url: 'u', n: 0 })).toMatchObject({ instancePath: '/n', keyword: 'minimum' });
    expect(check({ url: 'u', z: 1 })).toMatchObject({
      keyword: 'additionalProperties',
      params: { additionalProperty: 'z' },
    });
    expect(check({ url: 'u' })).toBeUndefined();
  });

  it('refuses with PF_ERR_POLICY a schema whose $refs make a check take too many steps', () => {
    // Each level checks the next twice: 2^40 visits, for a schema of a few hundred bytes.
    const $defs: Record<string, unknown> = { l40: true };
    for (let i = 39; i >= 0; i--)
      $defs[`l${i}`] = { allOf: [{ $ref: `#/$defs/l${i + 1}` }, { $ref: `#/$defs/l${i + 1}` }] };
    const s = { $defs, $ref: '#/$defs/l0' };
    assertSafeSchema(s, MAX_SCHEMA_BOUNDS, 'bomb');
    let caught: unknown;
    try {
      schemaCheck(s, 'b.example/bomb@1.0.0')({});
    } catch (err) {
      caught = err;
    }
    expect(isProtoflyError(caught, 'PF_ERR_POLICY')).toBe(true);
    expect((caught as Error).message).toMatch(
      /b\.example\/bomb@1\.0\.0: configuration\/schema takes more than/,
    );
  });

  it('refuses with PF_ERR_POLICY a $ref that names nothing, and a loop of $refs', () => {
    expect(() => schemaCheck({ $ref: '#/$defs/none' }, 'x')({})).toThrow(/names no schema/);
    expect(() => schemaCheck({ $ref: '#' }, 'x')({})).toThrow(/a loop of \$refs/);
  });
});
