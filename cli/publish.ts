import { resolve } from 'node:path';
import { readDomainKey } from '../server/catalogue/keys.js';
import { type PublishResult, publish as publishPlugin } from '../server/catalogue/publish.js';
import { type Command, parse, progress, required, usageError } from './command.js';

export const publish: Command = {
  summary: 'bundle, hash and sign a stub or backend into a catalogue directory',
  usage:
    'protofly publish <stub-or-backend-dir> --key <domain.key> --out <catalogue-dir> [--domain <d>] [--default] [--minify]',
  help: [
    'Options:',
    '  --key <file>    the domain key, as protofly keygen writes it; its domain signs (required)',
    '  --out <dir>     the catalogue directory, made if missing (required)',
    '  --domain <d>    the domain, for a key file that names none (a PEM made elsewhere)',
    '  --default       make this stub the domain default (the first stub published is anyway)',
    '  --minify        minify the bundle (default: readable, with a source map)',
    '',
    'An unchanged plugin writes nothing; a changed plugin under a published version is refused.',
    "A catalogue signed with another key is refused (PF_ERR_FOREIGN_KEY). For a running domain's",
    'next version, protofly release keeps what the domain filled in (its url and endpoints).',
    '',
    'Example:',
    '  protofly publish plugins/stubs/json-ws --key keys/b.example.key --out catalogue',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        key: { type: 'string' },
        out: { type: 'string' },
        domain: { type: 'string' },
        default: { type: 'boolean' },
        minify: { type: 'boolean' },
      },
      'publish',
    );
    const [dir] = positionals;
    if (!dir || positionals.length > 1) throw usageError('publish', 'one plugin folder expected');
    const key = await readDomainKey(required(values.key, 'key', 'publish'), values.domain);
    progress(`bundling ${dir}`);
    const result = await publishPlugin({
      pluginDir: resolve(dir),
      key,
      out: resolve(required(values.out, 'out', 'publish')),
      makeDefault: values.default ?? false,
      minify: values.minify ?? false,
    });
    console.log(published(result, values.default ?? false));
    return 0;
  },
};

/** What publishing did, for the terminal. */
export function published(result: PublishResult, madeDefault = false): string {
  const d = result.descriptor;
  const what = `${d.kind} ${d.domain}/${d.name}@${d.version} (${d.sourcePackage.size} bytes, ${d.sourcePackage.integrity})`;
  const rollback =
    d.kind === 'stub' && d.rollback ? `, a rollback of ${d.rollback.of} to ${d.rollback.to}` : '';
  if (!result.changed) return `unchanged ${what}${madeDefault ? ', now the default' : ''}`;
  return `published ${what}${rollback}\n  ${result.descriptorFile}\n  ${result.packageFile}`;
}
