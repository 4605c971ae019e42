import { generateDomainKey } from '../server/catalogue/keys.js';
import { type Command, parse, required } from './command.js';

const usage = 'protofly keygen --domain <domain> --out <dir>';

export const keygen: Command = {
  summary: "create a domain's Ed25519 signing key pair",
  usage,
  async run(args) {
    const { values } = parse(args, { domain: { type: 'string' }, out: { type: 'string' } }, usage);
    const key = await generateDomainKey(
      required(values.domain, 'domain', usage),
      required(values.out, 'out', usage),
    );
    console.log(`kid ${key.publicJwk.kid}`);
    for (const file of key.files) console.log(`wrote ${file}`);
    return 0;
  },
};
