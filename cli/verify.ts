import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CatalogueClient } from '../core/catalogue.js';
import { ProtoflyError } from '../core/errors.js';
import type { Ed25519Jwk } from '../core/generated/types.js';
import { Loader } from '../core/loader.js';
import type { PolicyOption } from '../core/policy.js';
import { TrustStore } from '../core/trust.js';
import { FileStore } from '../node/file-store.js';
import { protoflyHome } from '../node/home.js';
import { type Command, parse } from './command.js';

const usage =
  'protofly verify <descriptor-url> [--trust <pub.jwk>] [--catalogue <base-url>] [--kind stub|backend] [--policy development|<policy.json>]';

export const verify: Command = {
  summary: 'fetch a descriptor and its package and run every check a runtime runs',
  usage,
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        trust: { type: 'string' },
        catalogue: { type: 'string' },
        kind: { type: 'string', default: 'stub' },
        policy: { type: 'string' },
      },
      usage,
    );
    const [url] = positionals;
    if (!url || positionals.length > 1)
      throw new ProtoflyError('PF_ERR_USAGE', `one descriptor URL expected\nusage: ${usage}`);
    if (values.kind !== 'stub' && values.kind !== 'backend') {
      throw new ProtoflyError('PF_ERR_USAGE', `--kind must be stub or backend, not '${values.kind}'`);
    }
    // With --trust, that key is the only one trusted, for whatever domain the descriptor names.
    // Without, the domain's keys come from its catalogue (--catalogue, else https://<domain>),
    // never from the descriptor URL's origin, and are trusted on first use.
    let trust = new TrustStore({ mode: 'tofu', store: new FileStore(join(protoflyHome(), 'trust')) });
    const domain = values.trust || values.catalogue ? await domainOfDescriptor(url) : undefined;
    if (values.trust) {
      const jwk = JSON.parse(await readFile(values.trust, 'utf8')) as Ed25519Jwk;
      trust = new TrustStore({ mode: 'pinned', pinned: { [domain!]: [jwk] } });
    }
    const loader = new Loader({
      trust,
      catalogue: new CatalogueClient(values.catalogue ? { catalogues: { [domain!]: values.catalogue } } : {}),
      // The runtime policy the descriptor is checked against: the safe default unless named.
      ...(values.policy ? { policy: await policyOf(values.policy) } : {}),
      onCheck: (e) => console.log(`ok ${e.check.padEnd(10)} ${e.detail}`),
    });
    const pkg = await loader.loadUrl(url, values.kind);
    const d = pkg.descriptor;
    console.log(`verified ${d.kind} ${d.domain}/${d.name}@${d.version}, signed by ${pkg.signedBy}`);
    return 0;
  },
};

/** `development`, or a file following schemas/runtime-policy.schema.json (checked by the loader). */
async function policyOf(value: string): Promise<PolicyOption> {
  if (value === 'development' || value === 'default') return value;
  try {
    return JSON.parse(await readFile(value, 'utf8')) as PolicyOption;
  } catch (err) {
    throw new ProtoflyError('PF_ERR_USAGE', `--policy ${value}: ${(err as Error).message}\nusage: ${usage}`);
  }
}

/** The domain a descriptor claims, read before any check so that --trust can pin it. */
async function domainOfDescriptor(url: string): Promise<string> {
  const { body } = await new CatalogueClient().json(url, 64 * 1024, 'descriptor');
  const domain = (body as { domain?: unknown })?.domain;
  if (typeof domain !== 'string')
    throw new ProtoflyError('PF_ERR_SCHEMA', 'descriptor: /domain is required', { pointer: '/domain' });
  return domain;
}
