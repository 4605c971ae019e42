import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Descriptor } from './plugin.js';
import { schemaError } from './validate.js';

/**
 * A plugin's configuration: the descriptor's defaults under the runtime's values, checked
 * against the descriptor's configuration schema. The schema comes with the package, so it is
 * compiled at run time, once per descriptor (versions of one package may differ in schema).
 */
const ajv = new Ajv2020({ strict: false, allErrors: false, useDefaults: true });
const compiled = new Map<string, ValidateFunction>();

/**
 * The validated configuration for a plugin.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming the offending setting.
 */
export function pluginConfig(
  descriptor: Descriptor,
  values: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  const key = descriptor.signature.value;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(descriptor.configuration.schema);
    compiled.set(key, validate);
  }
  const config = { ...descriptor.configuration.defaults, ...values };
  if (!validate(config)) {
    throw schemaError(`configuration of ${descriptor.domain}/${descriptor.name}`, validate.errors ?? []);
  }
  return config;
}
