import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ProtoflyError } from '../core/errors.js';
import { startDomain } from '../server/domain.js';
import { type Command, parse, untilSignal } from './command.js';

const usage = 'protofly serve [--config <domain.yaml|json>] [--domain <d>] [--data <dir>]';

/** What `protofly serve` runs with no config: a domain on loopback, in memory but its key and catalogue. */
const DEFAULTS = { domain: 'localhost', ports: { catalogue: 7080, messaging: 7081, admin: 7082 } };

export const serve: Command = {
  summary: 'run a domain: catalogue with the built-in stubs, identity and messaging node',
  usage,
  async run(args) {
    const { values } = parse(
      args,
      { config: { type: 'string' }, domain: { type: 'string' }, data: { type: 'string' } },
      usage,
    );
    const config: Record<string, unknown> = values.config ? await readConfig(values.config) : { ...DEFAULTS };
    if (values.domain) config.domain = values.domain;
    if (values.data) config.dataDir = values.data;
    const domain = await startDomain(config);
    const lines = [
      `protofly domain ${domain.domain}`,
      `  catalogue   ${domain.catalogueUrl}/.well-known/protofly/stub/default`,
      `  keys        ${domain.catalogueUrl}/.well-known/protofly/keys  (kid ${domain.key.publicJwk.kid})`,
      `  messaging   ${domain.nodeUrl}`,
      `  health      ${domain.adminUrl}/health`,
      `  metrics     ${domain.adminUrl}/metrics`,
      `  data        ${domain.dataDir}`,
      ...domain.published.map(
        (p) =>
          `  stub        ${p.descriptor.name}@${p.descriptor.version} ${p.descriptor.sourcePackage.integrity}`,
      ),
      'Ctrl-C stops it.',
    ];
    console.log(lines.join('\n'));
    await untilSignal();
    await domain.close();
    return 0;
  },
};

/** Reads a domain config in JSON or YAML; the schema check happens in startDomain. */
async function readConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot read config ${file}: ${(err as Error).message}`, {
      file,
    });
  }
  try {
    return (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `config ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      {
        file,
      },
    );
  }
}
