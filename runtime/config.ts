import { type Descriptor, descriptorKey } from '../core/plugin.js';
import { schemaError } from '../core/validate.js';
import { type SchemaCheck, schemaCheck } from './config-schema.js';
import { assertSafeSchema, MAX_SCHEMA_BOUNDS } from './safe-schema.js';

/**
 * A plugin's configuration: the descriptor's defaults under the runtime's values, checked
 * against the descriptor's configuration schema. The schema comes with the descriptor, so it
 * is checked by a walker of the safe subset (config-schema.ts; no code is generated, which a
 * page's Content Security Policy would refuse), on the runtime's thread, and only when it is
 * in the safe subset (no regular expressions, no remote references; the loader has checked it
 * against the policy's bounds already).
 */
const compiled = new Map<string, SchemaCheck>();
/** Checks kept, newest last: descriptors come and go with versions. */
const MAX_COMPILED = 256;

/**
 * The validated configuration for a plugin.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming the offending setting; `PF_ERR_POLICY` when
 *   the descriptor's schema is outside the safe subset.
 */
export function pluginConfig(
  descriptor: Descriptor,
  values: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  // Keyed by what was verified: the same package bytes under another descriptor bring another schema.
  const key = descriptorKey(descriptor);
  let validate = compiled.get(key);
  if (!validate) {
    const { schema } = descriptor.configuration;
    const what = `${descriptor.domain}/${descriptor.name}@${descriptor.version}`;
    assertSafeSchema(schema, MAX_SCHEMA_BOUNDS, what);
    validate = schemaCheck(schema, what);
    compiled.set(key, validate);
    if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  }
  const config = { ...descriptor.configuration.defaults, ...values };
  const error = validate(config);
  if (error) throw schemaError(`configuration of ${descriptor.domain}/${descriptor.name}`, [error]);
  return config;
}
