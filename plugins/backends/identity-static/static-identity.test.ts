import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { httpKeysOf } from '../../../server/services/keys-of.js';
import {
  type KeysServer,
  serveKeys,
  testIdentity,
  testKey,
} from '../../../test/support/identity-fixtures.js';
import { hashPassword } from './password.js';

const ALICE = 'user://a.example/alice';
const servers: KeysServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** a.example publishes its keys over HTTP; b.example's identity finds them through the origin map. */
async function twoDomains(options: { allowDomains?: string[]; cooldownMs?: number } = {}) {
  const a = await testIdentity('a.example');
  const keys = await serveKeys(a.keys);
  servers.push(keys);
  const b = await testIdentity('b.example', {
    keysOf: httpKeysOf({ origins: { 'a.example': keys.origin, 'dead.example': 'http://127.0.0.1:1' } }),
    allowDomains: options.allowDomains,
    cache: { cooldownMs: options.cooldownMs ?? 30_000 },
  });
  return { a, b, keys };
}

describe('StaticIdentity', () => {
  it('authenticates users of its file and nobody else', async () => {
    const id = await testIdentity('a.example', {
      users: new Map([['alice', { hash: await hashPassword('pw'), disabled: false }]]),
    });
    expect(await id.authenticate('alice', 'pw')).toBe(ALICE);
    expect(await id.authenticate('alice', 'wrong')).toBeUndefined();
    expect(await id.authenticate('mallory', 'pw')).toBeUndefined();
  });

  it('refuses a disabled user with the right password, and takes them back once enabled', async () => {
    const id = await testIdentity('a.example', {
      users: new Map([['alice', { hash: await hashPassword('pw'), disabled: true }]]),
    });
    expect(await id.authenticate('alice', 'pw')).toBeUndefined();
    expect(await id.active(ALICE)).toBe(false);
    await id.users.update('alice', { disabled: false });
    expect(await id.authenticate('alice', 'pw')).toBe(ALICE);
    expect(await id.active(ALICE)).toBe(true);
    expect(await id.active('user://a.example/mallory')).toBe(false);
    expect(await id.active('user://b.example/alice')).toBe(false);
  });

  it('verifies its own tokens without fetching anything', async () => {
    const id = await testIdentity('a.example');
    expect(await id.verify(await id.issue(ALICE))).toBe(ALICE);
  });

  it('issues tokens only for its own users', async () => {
    const id = await testIdentity('a.example');
    await expect(id.issue('user://b.example/bob')).rejects.toThrow(
      'PF_ERR_FORBIDDEN: a.example issues tokens for its own users, not user://b.example/bob',
    );
  });

  it("verifies a foreign user's token with the keys its domain publishes, fetched once", async () => {
    const { a, b, keys } = await twoDomains();
    expect(await b.verify(await a.issue(ALICE, 60, 'b.example'))).toBe(ALICE);
    expect(await b.verify(await a.issue(ALICE, 60, 'b.example'))).toBe(ALICE);
    expect(keys.fetches).toBe(1);
  });

  it('refuses a token for another audience before fetching keys', async () => {
    const { a, b, keys } = await twoDomains();
    await expect(b.verify(await a.issue(ALICE, 60, 'c.example'))).rejects.toThrow(
      'PF_ERR_AUTH: token for user://a.example/alice is for audience "c.example", not b.example',
    );
    expect(keys.fetches).toBe(0);
  });

  it('refuses a token signed by a key its issuer does not publish', async () => {
    const { b } = await twoDomains();
    const forged = await testIdentity('a.example', { key: await testKey() });
    await expect(b.verify(await forged.issue(ALICE, 60, 'b.example'))).rejects.toThrow(
      /^PF_ERR_AUTH: token for user:\/\/a.example\/alice from a.example: /,
    );
  });

  it('refuses an expired token, and a sub outside the issuing domain', async () => {
    const { a, b } = await twoDomains();
    await expect(b.verify(await a.issue(ALICE, -60, 'b.example'))).rejects.toThrow(/PF_ERR_AUTH: .*"exp"/);
    const key = await testKey();
    const lying = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: key.publicJwk.kid })
      .setIssuer('a.example')
      .setSubject('user://b.example/bob')
      .setAudience('b.example')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(key.privateKey);
    await expect(b.verify(lying)).rejects.toThrow(
      "PF_ERR_AUTH: token from a.example names sub 'user://b.example/bob', not one of its users",
    );
    await expect(b.verify('not.a.jwt')).rejects.toThrow("PF_ERR_AUTH: token 'not.a.jwt...' is not a JWT");
  });

  it('refuses a domain outside allowDomains with PF_ERR_FORBIDDEN, without fetching', async () => {
    const { a, b, keys } = await twoDomains({ allowDomains: ['c.example'] });
    await expect(b.verify(await a.issue(ALICE, 60, 'b.example'))).rejects.toThrow(
      'PF_ERR_FORBIDDEN: users of a.example are not admitted by b.example',
    );
    expect(keys.fetches).toBe(0);
  });

  it('reports unreachable keys as PF_ERR_FETCH and does not ask again within the cooldown', async () => {
    const { b } = await twoDomains();
    const dead = await testIdentity('dead.example');
    const token = await dead.issue('user://dead.example/zed', 60, 'b.example');
    const first = (await b.verify(token).catch((e: Error) => e)) as Error;
    expect(first.message).toMatch(/^PF_ERR_FETCH: keys of dead\.example: http:\/\/127\.0\.0\.1:1\//);
    // Remembered: the same error, at once, without a second connection attempt.
    expect(await b.verify(token).catch((e: Error) => e)).toBe(first);
  });

  it('fetches again for an unknown key id once the cooldown is over (key rotation)', async () => {
    const { b, keys } = await twoDomains({ cooldownMs: 0 });
    const rotated = await testIdentity('a.example');
    keys.keys = rotated.keys;
    expect(await b.verify(await rotated.issue(ALICE, 60, 'b.example'))).toBe(ALICE);
    expect(keys.fetches).toBe(1);
    const again = await testIdentity('a.example');
    keys.keys = again.keys;
    expect(await b.verify(await again.issue(ALICE, 60, 'b.example'))).toBe(ALICE);
    expect(keys.fetches).toBe(2);
  });
});
