import { rollback as rollbackStub } from '../server/release.js';
import { type Command, parse, required, usageError } from './command.js';
import { domainData } from './domain-data.js';
import { published } from './publish.js';

export const rollback: Command = {
  summary: "make an earlier version of a domain's stub current again, signed as a rollback",
  usage: 'protofly rollback <stub-name> <version> --data <domain data dir> [--as <semver>] [--domain <d>]',
  help: [
    'Arguments:',
    '  <stub-name>        the published stub, e.g. json-ws',
    '  <version>          the earlier version to bring back, e.g. 0.1.0',
    '',
    'Options:',
    '  --data <dir>       the data directory of the domain: its key signs, its catalogue gets it (required)',
    '  --as <v>           the version the rollback is published as (default: the newest version,',
    '                     next patch); higher than every published version',
    '  --domain <d>       which domain key of the data directory, if it holds several',
    '',
    "The earlier version's package and configuration come back as a new, higher version that says",
    'it is a rollback (rollback: {of, to}), so runtimes take it as an update (live ones move running',
    'conversations back) while still refusing the earlier descriptor itself as a downgrade.',
    '',
    'Example:',
    '  protofly rollback json-ws 0.1.0 --data .protofly/localhost',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      { data: { type: 'string' }, as: { type: 'string' }, domain: { type: 'string' } },
      'rollback',
    );
    const [name, to] = positionals;
    if (!name || !to || positionals.length > 2)
      throw usageError('rollback', 'a stub name and the version to bring back expected');
    const target = await domainData(required(values.data, 'data', 'rollback'), values.domain);
    const result = await rollbackStub(target, { name, to, ...(values.as ? { version: values.as } : {}) });
    console.log(published(result));
    return 0;
  },
};
