import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ProtoflyError } from '../../../core/errors.js';
import { httpKeysOf } from '../../../server/services/keys-of.js';
import type { Backend } from '../../../server/services/service.js';
import type { SigningKey } from '../domain-tokens.js';
import { OidcIdentity, type UserClaim } from './oidc-identity.js';
import { OidcProvider } from './provider.js';

interface Config {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  clientSecretFile?: string;
  claim: UserClaim;
  emailDomain?: string;
  algorithms: string[];
  clockSkewSeconds: number;
  maxIdTokenAgeSeconds: number;
  timeoutMs: number;
  keysCooldownSeconds: number;
  reauthenticateSeconds: number;
  ttlSeconds: number;
}

/** identity-oidc: users log in at an OpenID Connect provider; tokens signed with the domain's key. */
const backend: Backend<'identity'> = {
  service: 'identity',
  async create(ctx) {
    const c = ctx.config as unknown as Config;
    return new OidcIdentity({
      domain: ctx.domain,
      key: ctx.key as SigningKey,
      ttlSeconds: c.ttlSeconds,
      keysOf: httpKeysOf({ origins: ctx.peers }),
      ...(ctx.allowDomains ? { allowDomains: ctx.allowDomains } : {}),
      provider: new OidcProvider({
        issuer: c.issuer,
        clientId: c.clientId,
        clientSecret: await secretOf(c, ctx.dataDir),
        timeoutMs: c.timeoutMs,
        keysCooldownMs: c.keysCooldownSeconds * 1000,
      }),
      clientId: c.clientId,
      claim: c.claim,
      reauthenticateSeconds: c.reauthenticateSeconds,
      ...(c.emailDomain ? { emailDomain: c.emailDomain } : {}),
      idToken: {
        algorithms: c.algorithms,
        skewSeconds: c.clockSkewSeconds,
        maxAgeSeconds: c.maxIdTokenAgeSeconds,
      },
    });
  },
};
export default backend;

/** The client secret, inline or from its file (which keeps it out of the domain config). */
async function secretOf(c: Config, dataDir: string): Promise<string> {
  if (c.clientSecret !== undefined && c.clientSecretFile === undefined) return c.clientSecret;
  if (c.clientSecretFile !== undefined && c.clientSecret === undefined) {
    const file = resolve(dataDir, c.clientSecretFile);
    const secret = await readFile(file, 'utf8').then(
      (text) => text.trim(),
      (err: Error) => {
        throw new ProtoflyError(
          'PF_ERR_CONFIG',
          `identity-oidc: cannot read clientSecretFile ${file}: ${err.message}`,
        );
      },
    );
    if (secret) return secret;
  }
  throw new ProtoflyError(
    'PF_ERR_CONFIG',
    'identity-oidc: give one of clientSecret and clientSecretFile, not empty',
  );
}
