import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { ProtoflyError } from '../../core/errors.js';
import type { Backend, Services } from '../../core/service.js';
import { writeAtomic } from '../../node/files.js';
import cdrSqlite from '../../plugins/backends/cdr-sqlite/index.js';
import identityStatic from '../../plugins/backends/identity-static/index.js';
import { type DomainKey, publicJwkOf } from '../catalogue/keys.js';
import { readManifest } from '../catalogue/publish.js';
import { BUILTIN_BACKENDS } from './start-services.js';

/** The backends whose data the `protofly` commands work on, by service. */
const LOCAL = { identity: ['identity-static', identityStatic], cdr: ['cdr-sqlite', cdrSqlite] } as const;

type LocalService = keyof typeof LOCAL;

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
 * creates it: its manifest's defaults under `config`, and the host's context. It works on a
 * domain's data whether the domain runs or not, even before its first start, when no catalogue
 * holds a verified backend yet; so the backend is protofly's own code, as the command is.
 *
 * Without `key`, the context's key is one made for this call, which signs nothing anyone trusts,
 * of the domain `unnamed.invalid` (RFC 6761): a command that only manages data needs neither.
 */
export async function localService<K extends LocalService>(
  service: K,
  options: LocalServiceOptions,
): Promise<Services[K]> {
  const [name, backend] = LOCAL[service] as readonly [string, Backend];
  const manifest = await readManifest(join(BUILTIN_BACKENDS, name));
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
