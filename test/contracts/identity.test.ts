import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceOf } from '../support/backends.js';
import { CLIENT, testProvider } from '../support/oidc-provider.js';
import { identityContract } from './identity.contract.js';

identityContract({
  name: 'identity-static (users file)',
  create: () => serviceOf('identity', 'identity-static'),
  offers: { directory: true },
});
identityContract({
  name: 'identity-static (inline users)',
  create: () => serviceOf('identity', 'identity-static', { users: {} }),
  offers: { directory: true },
});

// A real OpenID Connect provider on loopback, started once for the file.
const provider = testProvider({ alice: { preferred_username: 'alice' } });
afterAll(async () => (await provider).close());
identityContract({
  name: 'identity-oidc (oidc-provider on loopback)',
  create: async () =>
    serviceOf('identity', 'identity-oidc', {
      issuer: (await provider).issuer,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
    }),
  offers: { directory: false, codeFor: async (name) => (await provider).authorize(name) },
});

describe('identity-static', () => {
  it('keeps its users in the file, read again when another process changed it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-identity-'));
    const one = await serviceOf('identity', 'identity-static', {}, {}, dir);
    const two = await serviceOf('identity', 'identity-static', {}, {}, dir);
    await one.users!.create('alice', 'alice pass');
    expect(await readFile(join(dir, 'users.yaml'), 'utf8')).toMatch(/^users:\n {2}alice: scrypt\$/);
    expect(await two.authenticate('alice', 'alice pass')).toBe('user://backends.test/alice');
    await two.users!.update('alice', { disabled: true });
    expect(await one.authenticate('alice', 'alice pass')).toBeUndefined();
  });
});
