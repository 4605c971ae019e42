import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { ProtoflyError } from '../../core/errors.js';
import { writeAtomic } from '../../node/files.js';
import { protoflyHome } from '../../node/home.js';
import { integrityHex, integrityOf } from '../../runtime/integrity.js';
import { type DomainKey, publicJwkOf } from '../catalogue/keys.js';
import { bundlePlugin, readManifest } from '../catalogue/publish.js';
import type { Services } from '../services/service.js';
import { importBundle } from './import-backend.js';
import { BUILTIN_BACKENDS } from './start-services.js';

/** The built-in backend whose files the `protofly` commands work on, by service. */
const LOCAL = { identity: 'identity-static', cdr: 'cdr-sqlite' } as const;

export interface LocalServiceOptions {
  /** The domain's data directory: relative paths in `config` are relative to it. */
  readonly dataDir: string;
  /** Over the backend's manifest defaults. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** The domain's key, for a command that signs (a login with the domain key). */
  readonly key?: DomainKey;
}

/**
 * A service created in this process from the built-in backend whose files a command works on
 * (`protofly users`: identity-static's users file; `protofly cdr`: cdr-sqlite's database;
 * `protofly chat --key`: identity-static's tokens), through the backend contract, as a domain
 * creates it: bundled as publish bundles it, imported as a verified one is (under
 * `$PROTOFLY_HOME/backends`), created with its manifest's defaults under `config` and the
 * host's context. It works on a domain's data whether the domain runs or not, even before its
 * first start, when no catalogue holds a signed backend yet: so the backend is protofly's own
 * code, as the command is, unsigned.
 *
 * Without `key`, the context's key is one made for this call, which signs nothing anyone trusts,
 * of the domain `unnamed.invalid` (RFC 6761): a command that only manages data needs neither.
 */
export async function localService<K extends keyof typeof LOCAL>(
  service: K,
  options: LocalServiceOptions,
): Promise<Services[K]> {
  const name = LOCAL[service];
  const pluginDir = join(BUILTIN_BACKENDS, name);
  const manifest = await readManifest(pluginDir);
  const { code } = await bundlePlugin(pluginDir, manifest.entry, 'backend', false);
  const backend = await importBundle(
    {
      id: `${name}@${manifest.version}`,
      service,
      hex: integrityHex(await integrityOf(code)),
      source: new TextDecoder().decode(code),
    },
    join(protoflyHome(), 'backends'),
  );
  const key = options.key ?? (await throwawayKey());
  return (await backend.create({
    domain: key.domain,
    config: { ...manifest.configuration?.defaults, ...options.config },
    dataDir: options.dataDir,
    key,
    peers: {},
    writeAtomic,
    resolve: () => {
      throw new ProtoflyError('PF_ERR_CONFIG', `${name} builds on no other service`);
    },
  })) as Services[K];
}

async function throwawayKey(): Promise<DomainKey> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { domain: 'unnamed.invalid', privateKey, publicJwk: await publicJwkOf(privateKey) };
}
