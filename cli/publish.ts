import { resolve } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { readDomainKey } from '../server/catalogue/keys.js';
import { publish as publishPlugin } from '../server/catalogue/publish.js';
import { type Command, parse, required } from './command.js';

const usage =
  'protofly publish <stub-or-backend-dir> --key <domain.key> --out <catalogue-dir> [--domain <d>] [--default] [--minify]';

export const publish: Command = {
  summary: 'bundle, hash and sign a stub or backend into a catalogue directory',
  usage,
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
      usage,
    );
    const [dir] = positionals;
    if (!dir || positionals.length > 1)
      throw new ProtoflyError('PF_ERR_USAGE', `one plugin folder expected\nusage: ${usage}`);
    const key = await readDomainKey(required(values.key, 'key', usage), values.domain);
    const result = await publishPlugin({
      pluginDir: resolve(dir),
      key,
      out: resolve(required(values.out, 'out', usage)),
      makeDefault: values.default ?? false,
      minify: values.minify ?? false,
    });
    const d = result.descriptor;
    const what = `${d.kind} ${d.domain}/${d.name}@${d.version} (${d.sourcePackage.size} bytes, ${d.sourcePackage.integrity})`;
    console.log(
      result.changed
        ? `published ${what}\n  ${result.descriptorFile}\n  ${result.packageFile}`
        : `unchanged ${what}`,
    );
    return 0;
  },
};
