import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { domainOf } from '../../core/address.js';
import { toBase64Url } from '../../core/encoding.js';
import { ProtoflyError } from '../../core/errors.js';
import type { Ed25519Jwk, Signature } from '../../core/generated/types.js';

/** A domain's Ed25519 signing key: the private key stays with the provider, the JWK is published. */
export interface DomainKey {
  readonly domain: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: Ed25519Jwk;
}

/**
 * The public JWK of a private key, with its RFC 7638 thumbprint as `kid`; marked `development`
 * for a development key (only a development policy accepts what it signs).
 */
export async function publicJwkOf(privateKey: KeyObject, development = false): Promise<Ed25519Jwk> {
  const { kty, crv, x } = createPublicKey(privateKey).export({ format: 'jwk' });
  if (kty !== 'OKP' || crv !== 'Ed25519' || !x) {
    throw new ProtoflyError('PF_ERR_CONFIG', `key is ${crv ?? kty}, not Ed25519`, { kty, crv });
  }
  const kid = await calculateJwkThumbprint({ kty, crv, x });
  const jwk: Ed25519Jwk = { kty: 'OKP', crv: 'Ed25519', x, kid, use: 'sig', alg: 'EdDSA' };
  return development ? { ...jwk, development: true } : jwk;
}

/**
 * The line a key file names its domain on, before the PEM block: RFC 7468 explanatory text,
 * which PEM readers skip. The domain travels with the key, whatever the file is called.
 */
const DOMAIN_LINE = /^protofly-domain: *(\S+) *$/m;
/** The line that marks a development key (`protofly dev`), beside the domain's. */
const DEVELOPMENT_LINE = 'protofly-key: development';

/**
 * `protofly keygen`: writes `<dir>/<domain>.key` (PKCS#8 PEM naming its domain, mode 0600) and
 * `<dir>/<domain>.pub.jwk`. Refuses to overwrite an existing key. A `development` key
 * (`protofly dev`'s) says so in its file and its JWK.
 */
export async function generateDomainKey(
  domain: string,
  dir: string,
  development = false,
): Promise<DomainKey & { files: string[] }> {
  domainOf(`domain://${domain}`); // throws PF_ERR_ADDRESS for a malformed domain
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicJwk = await publicJwkOf(privateKey, development);
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, `${domain}.key`);
  const jwkFile = join(dir, `${domain}.pub.jwk`);
  try {
    await writeFile(
      keyFile,
      `protofly-domain: ${domain}\n${development ? `${DEVELOPMENT_LINE}\n` : ''}${privateKey.export({ format: 'pem', type: 'pkcs8' })}`,
      {
        mode: 0o600,
        flag: 'wx',
      },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ProtoflyError('PF_ERR_CONFIG', `${keyFile} exists; refusing to overwrite a domain key`, {
        file: keyFile,
      });
    }
    throw err;
  }
  await chmod(keyFile, 0o600); // the umask may have narrowed it further; make it exactly 0600
  await writeFile(jwkFile, `${JSON.stringify(publicJwk, null, 2)}\n`);
  return { domain, privateKey, publicJwk, files: [keyFile, jwkFile] };
}

/**
 * Reads a domain key written by {@link generateDomainKey}. The domain is the one the key file
 * names; `domain` is for a key file that names none (a PEM made elsewhere) and must agree with
 * one that does.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` for an unreadable file, one that is not an Ed25519
 *   private key, a key of no known domain, or a domain other than the file's.
 */
export async function readDomainKey(file: string, domain?: string): Promise<DomainKey> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `cannot read key ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
  const preamble = pem.slice(0, Math.max(0, pem.indexOf('-----BEGIN')));
  const named = DOMAIN_LINE.exec(preamble)?.[1];
  if (named && domain && named !== domain) {
    throw new ProtoflyError('PF_ERR_CONFIG', `key ${file} is the key of ${named}, not of ${domain}`, {
      file,
      domain: named,
    });
  }
  const of = named ?? domain;
  if (!of) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `key ${file} names no domain (no 'protofly-domain:' line); give the domain with --domain`,
      { file },
    );
  }
  domainOf(`domain://${of}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `key ${file} is not a private key (PKCS#8 PEM, as protofly keygen writes; a .pub.jwk is the public half)`,
      { file },
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ProtoflyError('PF_ERR_CONFIG', `key ${file} is ${privateKey.asymmetricKeyType}, not Ed25519`, {
      file,
    });
  }
  const development = preamble.split('\n').some((l) => l.trim() === DEVELOPMENT_LINE);
  return { domain: of, privateKey, publicJwk: await publicJwkOf(privateKey, development) };
}

/** Signs `input` (a descriptor's JCS bytes) with a domain key. */
export function signWith(key: DomainKey, input: Uint8Array): Signature {
  return { keyId: key.publicJwk.kid, alg: 'Ed25519', value: toBase64Url(sign(null, input, key.privateKey)) };
}
