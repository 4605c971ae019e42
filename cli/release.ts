import { resolve } from 'node:path';
import { release as releasePlugin } from '../server/release.js';
import { type Command, parse, progress, required, usageError } from './command.js';
import { domainData } from './domain-data.js';
import { published } from './publish.js';

export const release: Command = {
  summary: "publish a new version of a stub into a domain's catalogue, as the domain deployed it",
  usage:
    'protofly release <stub-dir> --data <domain data dir> [--version <semver>] [--name <stub>] [--domain <d>]',
  help: [
    'Options:',
    '  --data <dir>       the data directory of the domain (protofly serve: dataDir): its key signs,',
    '                     its catalogue gets the version (required)',
    "  --version <v>      the version to release (default: the manifest's); not older than the newest",
    "  --name <stub>      the published stub this follows (default: the manifest's name)",
    '  --domain <d>       which domain key of the data directory, if it holds several',
    '',
    'The release keeps what the domain filled in for its deployment (the endpoints, and defaults',
    "the manifest does not set, such as json-ws's url), and is refused (PF_ERR_SCHEMA, naming the",
    'field) when its configuration so filled in does not satisfy its own schema. A running domain',
    'announces it; runtimes take it by their update policy (live ones move running conversations).',
    '',
    'Example:',
    '  protofly release plugins/stubs/json-ws --data .protofly/localhost --version 0.2.0',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        data: { type: 'string' },
        version: { type: 'string' },
        name: { type: 'string' },
        domain: { type: 'string' },
      },
      'release',
    );
    const [dir] = positionals;
    if (!dir || positionals.length > 1) throw usageError('release', 'one stub folder expected');
    const target = await domainData(required(values.data, 'data', 'release'), values.domain);
    progress(`bundling ${dir} and checking it against ${target.key.domain}'s deployment`);
    const result = await releasePlugin(target, {
      pluginDir: resolve(dir),
      ...(values.version ? { version: values.version } : {}),
      ...(values.name ? { name: values.name } : {}),
    });
    console.log(published(result));
    return 0;
  },
};
