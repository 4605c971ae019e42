import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Jwks } from '../../core/generated/types.js';
import {
  type SigningKey,
  StaticIdentity,
  type StaticIdentityOptions,
} from '../../plugins/backends/identity-static/static-identity.js';
import { KEYS_PATH } from '../../runtime/catalogue.js';
import { publicJwkOf } from '../../server/catalogue/keys.js';

/** A fresh Ed25519 signing key with its public JWK. */
export async function testKey(): Promise<SigningKey> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicJwk: await publicJwkOf(privateKey) };
}

/** An identity for `domain` with no users (tokens are issued directly) and a fresh key. */
export async function testIdentity(
  domain: string,
  options: Partial<StaticIdentityOptions> = {},
): Promise<StaticIdentity> {
  return new StaticIdentity({ domain, key: await testKey(), users: new Map(), ...options });
}

/** A real HTTP server on 127.0.0.1 publishing a key set at the well-known path, counting fetches. */
export interface KeysServer {
  readonly origin: string;
  readonly fetches: number;
  keys: Jwks;
  close(): Promise<void>;
}

export async function serveKeys(keys: Jwks): Promise<KeysServer> {
  let fetches = 0;
  const server = createServer((req, res) => {
    if (req.url !== KEYS_PATH) return void res.writeHead(404).end();
    fetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(handle.keys));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const handle: KeysServer = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get fetches() {
      return fetches;
    },
    keys,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return handle;
}
