import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import type { Ed25519Jwk } from '../core/generated/types.js';
import { FileStore } from '../node/file-store.js';
import { protoflyHome } from '../node/home.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { Loader } from '../runtime/loader.js';
import { TrustStore } from '../runtime/trust.js';
import { type Command, parse, policyOption, usageError } from './command.js';

export const verify: Command = {
  summary: 'fetch a descriptor and its package and run every check a runtime runs',
  usage:
    'protofly verify <descriptor-url> [--trust <pub.jwk>] [--catalogue <base-url>] [--kind stub|backend] [--policy development|<policy.json>]',
  help: [
    'Options:',
    "  --trust <file>   the domain's public key (a .pub.jwk, as protofly keygen writes it): the only",
    '                   key trusted (default: trust on first use, recorded under $PROTOFLY_HOME,',
    '                   default ~/.protofly)',
    "  --catalogue <u>  where the descriptor's domain serves its catalogue and keys (default:",
    "                   https://<domain>); a domain's keys never come from the URL's origin",
    '  --kind <k>       stub (default) or backend',
    '  --policy <p>     the runtime policy to check against: development (allows loopback), or',
    '                   a file following schemas/runtime-policy.schema.json (default: the safe one)',
    '',
    'Prints each check passed; a refusal exits 1 with `PF_ERR_...: message` as the last line of stderr.',
    '',
    'Example:',
    '  protofly verify http://127.0.0.1:8080/.well-known/protofly/stub/default --trust keys/b.example.pub.jwk',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        trust: { type: 'string' },
        catalogue: { type: 'string' },
        kind: { type: 'string', default: 'stub' },
        policy: { type: 'string' },
      },
      'verify',
    );
    const [url] = positionals;
    if (!url || positionals.length > 1) throw usageError('verify', 'one descriptor URL expected');
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw usageError('verify', `'${url}' is not an http(s) URL`);
    if (values.kind !== 'stub' && values.kind !== 'backend') {
      throw usageError('verify', `--kind must be stub or backend, not '${values.kind}'`);
    }
    // With --trust, that key is the only one trusted, for whatever domain the descriptor names.
    // Without, the domain's keys come from its catalogue (--catalogue, else https://<domain>),
    // never from the descriptor URL's origin, and are trusted on first use.
    let trust = new TrustStore({ mode: 'tofu', store: new FileStore(join(protoflyHome(), 'trust')) });
    const jwk = values.trust ? await trustedKey(values.trust) : undefined;
    const domain = values.trust || values.catalogue ? await domainOfDescriptor(url) : undefined;
    if (jwk) {
      trust = new TrustStore({ mode: 'pinned', pinned: { [domain!]: [jwk] } });
    }
    const loader = new Loader({
      trust,
      catalogue: new CatalogueClient(values.catalogue ? { catalogues: { [domain!]: values.catalogue } } : {}),
      // The runtime policy the descriptor is checked against: the safe default unless named.
      ...(values.policy ? { policy: await policyOption(values.policy, 'verify') } : {}),
      onCheck: (e) => console.log(`ok ${e.check.padEnd(10)} ${e.detail}`),
    });
    const pkg = await loader.loadUrl(url, values.kind);
    const d = pkg.descriptor;
    console.log(`verified ${d.kind} ${d.domain}/${d.name}@${d.version}, signed by ${pkg.signedBy}`);
    return 0;
  },
};

/** The domain a descriptor claims, read before any check so that --trust can pin it. */
async function domainOfDescriptor(url: string): Promise<string> {
  const { body } = await new CatalogueClient().json(url, 64 * 1024, 'descriptor');
  const domain = (body as { domain?: unknown })?.domain;
  if (typeof domain !== 'string')
    throw new ProtoflyError('PF_ERR_SCHEMA', 'descriptor: /domain is required', { pointer: '/domain' });
  return domain;
}

/** The public key of `--trust`: an Ed25519 JWK. */
async function trustedKey(file: string): Promise<Ed25519Jwk> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot read --trust ${file}: ${(err as Error).message}`, {
      file,
    });
  }
  let jwk: Partial<Ed25519Jwk> | undefined;
  try {
    jwk = JSON.parse(text) as Partial<Ed25519Jwk>;
  } catch {
    // Said below, with what was expected.
  }
  if (
    jwk?.kty !== 'OKP' ||
    jwk.crv !== 'Ed25519' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.kid !== 'string'
  ) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `--trust ${file} is not an Ed25519 public JWK (kty OKP, crv Ed25519, x, kid), as protofly keygen writes in <domain>.pub.jwk`,
      { file },
    );
  }
  return jwk as Ed25519Jwk;
}
