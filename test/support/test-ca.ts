import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate authority made for one test run, and a server certificate it signed. */
export interface TestCa {
  /** The CA's certificate (PEM): what a runtime that trusts it lists in its policy's `tls.ca`. */
  readonly caPem: string;
  /** The server's certificate and key files, for `127.0.0.1` and `localhost`. */
  readonly certFile: string;
  readonly keyFile: string;
  /** Removes the files (keys included). */
  remove(): Promise<void>;
}

/**
 * Makes a fresh CA and a server certificate for `127.0.0.1`, `::1` and `localhost` with
 * openssl (EC P-256, a day long), in a temporary directory: no private key is ever committed,
 * and no two runs share one. `name` goes in the subjects, to tell two CAs apart.
 */
export async function makeTestCa(name: string): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-ca-'));
  const file = (f: string) => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '1',
    '-subj',
    `/CN=${name} test CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    `/CN=${name} test server`,
  ]);
  await writeFile(
    file('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n',
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.pem'),
  ]);
  return {
    caPem: await readFile(file('ca.pem'), 'utf8'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
