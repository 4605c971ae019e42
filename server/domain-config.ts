import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ProtoflyError } from '../core/errors.js';
import type { DomainConfig } from '../core/generated/types.js';
import { validateDomainConfig } from '../core/generated/validators.js';
import { schemaError } from '../core/validate.js';
import { packageRoot } from '../node/package-root.js';
import { compilePolicy } from './policy/compile.js';

/**
 * Checks a domain config before anything starts, and says everything wrong with it at once:
 * a provider fixes a config in one go, not one error per start. The generated validator stops
 * at the first error (it also checks untrusted input, where that is the point); only a config
 * it refuses is checked again, against the same schemas, for all of them.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` listing every wrong setting, `PF_ERR_CONFIG` for
 *   settings the schema allows that cannot work together (two listeners on one port),
 *   `PF_ERR_RULES` for policy rules that cannot be used.
 */
export function checkDomainConfig(config: unknown): asserts config is DomainConfig {
  if (!validateDomainConfig(config)) {
    const validate = everyError();
    validate(config);
    throw schemaError('domain config', validate.errors ?? validateDomainConfig.errors ?? []);
  }
  const ports = Object.entries(config.ports ?? {}).filter(([, port]) => port !== 0);
  for (const [i, [name, port]] of ports.entries()) {
    const same = ports.slice(i + 1).find(([, other]) => other === port);
    if (same) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `domain config: /ports/${name} and /ports/${same[0]} are both ${port}; each listener needs its own port`,
        { pointer: `/ports/${same[0]}`, port },
      );
    }
  }
  if (config.policy) compilePolicy(config.policy, config.domain);
}

/** The domain config's validator with every error reported, compiled from the schemas when first needed. */
function everyError() {
  const ajv = new Ajv2020({ allErrors: true, strict: false, discriminator: true, allowUnionTypes: true });
  const dir = join(packageRoot(import.meta.url), 'schemas');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object);
  }
  return ajv.getSchema('https://protofly.dev/schemas/domain-config.schema.json') ?? validateDomainConfig;
}
