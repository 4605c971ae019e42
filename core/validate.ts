import { ProtoflyError } from './errors.js';
import type { ValidationError, Validator } from './generated/validators.js';

/**
 * Checks `data` with a generated validator and throws `PF_ERR_SCHEMA` naming the field.
 *
 * @param what - what the data is, for the message ("message", "stub descriptor", ...)
 */
export function assertValid<T>(validator: Validator<T>, data: unknown, what: string): asserts data is T {
  if (!validator(data)) throw schemaError(what, validator.errors ?? []);
}

/**
 * Builds the `PF_ERR_SCHEMA` error for a failed validation: each error's JSON pointer and
 * reason (one, from a validator that stops at the first), the first's in `detail`.
 */
export function schemaError(what: string, errors: readonly ValidationError[]): ProtoflyError {
  const first = errors[0];
  const pointer = first ? pointerOf(first) : '';
  const reasons = errors.length
    ? [...new Set(errors.map((e) => `${pointerOf(e) || '(root)'} ${describe(e)}`))]
    : ['(root) is invalid'];
  const shown = reasons.slice(0, MAX_REASONS);
  if (reasons.length > MAX_REASONS) shown.push(`and ${reasons.length - MAX_REASONS} more`);
  return new ProtoflyError('PF_ERR_SCHEMA', `${what}: ${shown.join('; ')}`, {
    pointer,
    keyword: first?.keyword,
    errors,
  });
}

/** Reasons named in one message at most. */
const MAX_REASONS = 20;

/** The pointer of the offending value; for a missing property, the property that is missing. */
function pointerOf(e: ValidationError): string {
  const missing = e.params.missingProperty;
  return typeof missing === 'string' ? `${e.instancePath}/${missing}` : e.instancePath;
}

function describe(e: ValidationError): string {
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return `has unknown property '${String(e.params.additionalProperty)}'`;
    case 'const':
      return `must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'enum':
      return `must be one of ${JSON.stringify(e.params.allowedValues)}`;
    case 'discriminator':
      return `has an unknown ${String(e.params.tag)} ${JSON.stringify(e.params.tagValue)}`;
    default:
      return e.message ?? 'is invalid';
  }
}
