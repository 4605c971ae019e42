import { generateDomainKey } from '../server/catalogue/keys.js';
import { type Command, parse, required } from './command.js';

export const keygen: Command = {
  summary: "create a domain's Ed25519 signing key pair",
  usage: 'protofly keygen --domain <domain> --out <dir>',
  help: [
    'Options:',
    '  --domain <d>   the domain the key signs for; the key file names it (required)',
    '  --out <dir>    where to write <d>.key (PKCS#8 PEM, 0600) and <d>.pub.jwk (required)',
    '',
    'An existing key is never overwritten.',
    '',
    'Example:',
    '  protofly keygen --domain b.example --out keys',
  ].join('\n'),
  async run(args) {
    const { values } = parse(args, { domain: { type: 'string' }, out: { type: 'string' } }, 'keygen');
    const key = await generateDomainKey(
      required(values.domain, 'domain', 'keygen'),
      required(values.out, 'out', 'keygen'),
    );
    console.log(`kid ${key.publicJwk.kid}`);
    for (const file of key.files) console.log(`wrote ${file}`);
    return 0;
  },
};
