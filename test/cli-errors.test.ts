import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, portFree } from '../node/free-port.js';
import { protofly, type Run } from './support/cli.js';
import { holdPort } from './support/ports.js';

/**
 * The command as a good citizen: whatever is wrong with its input, it exits non-zero with one
 * coded line on stderr, `PF_ERR_...: message`, and leaves nothing listening.
 */

const JSON_WS = join(import.meta.dirname, '../plugins/stubs/json-ws');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-cli-errors-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The one line a failed command printed on stderr; fails the test unless it is exactly one coded line. */
function refusal(run: Run, code: number): string {
  expect(run.code, run.stderr).toBe(code);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^PF_ERR_[A-Z_]+: \S/);
  return lines[0]!;
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** A config of a domain on the given ports, its data in the test folder. */
const config = (name: string, ports: Record<string, number>) =>
  file(
    `${name}.yaml`,
    `domain: ${name}.example\ndataDir: ${join(dir, name)}\nports: ${JSON.stringify(ports)}\n`,
  );

// Each case spawns the command: seconds apiece on a loaded machine.
describe('protofly refuses bad input with one coded line and no process left half started', {
  timeout: 120_000,
}, () => {
  it('an empty or comment-only config', async () => {
    for (const text of ['', '# nothing but a comment\n']) {
      const line = refusal(await protofly(['serve', '--config', await file('empty.yaml', text)]), 1);
      expect(line).toMatch(/^PF_ERR_CONFIG: config .*empty\.yaml is empty/);
    }
    const list = refusal(await protofly(['serve', '--config', await file('list.json', '[1]')]), 1);
    expect(list).toMatch(/^PF_ERR_CONFIG: config .*list\.json is a list/);
  });

  it('a config with several wrong settings: every one named', async () => {
    const bad = await file('bad.yaml', 'domain: B_AD\nports: { catalogue: abc, admin: -1 }\ncolour: blue\n');
    const line = refusal(await protofly(['serve', '--config', bad]), 1);
    expect(line).toMatch(/^PF_ERR_SCHEMA: domain config: /);
    for (const named of [
      "unknown property 'colour'",
      '/domain must match',
      '/ports/catalogue must be integer',
      '/ports/admin must be >= 0',
    ])
      expect(line).toContain(named);
  });

  it('the messaging port equal to the catalogue port', async () => {
    const port = await freePort();
    const line = refusal(
      await protofly(['serve', '--config', await config('same', { catalogue: port, messaging: port })]),
      1,
    );
    expect(line).toBe(
      `PF_ERR_CONFIG: domain config: /ports/catalogue and /ports/messaging are both ${port}; each listener needs its own port`,
    );
    expect(await portFree(port)).toBe(true);
  });

  for (const taken of ['messaging', 'admin'] as const) {
    it(`the ${taken} port in use: refused, and the ports it did open are closed again`, async () => {
      const held = await holdPort();
      try {
        const ports = {
          catalogue: await freePort(),
          messaging: await freePort(),
          admin: await freePort(),
          [taken]: held.port,
        };
        const line = refusal(await protofly(['serve', '--config', await config(taken, ports)]), 1);
        expect(line).toBe(
          `PF_ERR_CONFIG: 127.0.0.1:${held.port} is in use: choose other ports in the domain config`,
        );
        for (const [name, port] of Object.entries(ports))
          if (name !== taken) expect(await portFree(port), `${name} port ${port}`).toBe(true);
      } finally {
        await held.release();
      }
    });
  }

  it('a data directory under a regular file', async () => {
    const plain = await file('plain', 'a file\n');
    const line = refusal(
      await protofly(['serve', '--domain', 'x.example', '--data', join(plain, 'data')]),
      1,
    );
    expect(line).toMatch(
      /^PF_ERR_CONFIG: cannot mkdir .*plain\/data(\/keys)?: a part of the path is a file, not a folder \(ENOTDIR\)$/,
    );
  });

  it('wrong option values: a port, a node count, a cluster URL', async () => {
    const port = refusal(await protofly(['catalogue', '--dir', dir, '--port', 'abc']), 2);
    expect(port).toBe(
      "PF_ERR_USAGE: --port must be a port number (0-65535), not 'abc' (see protofly catalogue --help)",
    );
    expect(refusal(await protofly(['serve', '--nodes', 'two']), 2)).toMatch(/^PF_ERR_USAGE: --nodes must be/);
    expect(refusal(await protofly(['serve', '--cluster', 'localhost']), 2)).toMatch(
      /^PF_ERR_USAGE: --cluster must be a redis:\/\/ URL/,
    );
    expect(refusal(await protofly(['publish', '--frobnicate']), 2)).toMatch(
      /^PF_ERR_USAGE: Unknown option '--frobnicate'/,
    );
    expect(refusal(await protofly(['release', JSON_WS]), 2)).toMatch(/^PF_ERR_USAGE: --data is required/);
    expect(refusal(await protofly(['rollback', 'json-ws']), 2)).toMatch(
      /^PF_ERR_USAGE: a stub name and the version/,
    );
  });

  it('a catalogue directory that is not there', async () => {
    const line = refusal(await protofly(['catalogue', '--dir', join(dir, 'no-catalogue'), '--port', '0']), 1);
    expect(line).toMatch(/^PF_ERR_CONFIG: no catalogue directory at .*no-catalogue/);
  });

  it('the catalogue port in use', async () => {
    const held = await holdPort();
    try {
      const line = refusal(await protofly(['catalogue', '--dir', dir, '--port', String(held.port)]), 1);
      expect(line).toMatch(/^PF_ERR_CONFIG: 127\.0\.0\.1:\d+ is in use/);
    } finally {
      await held.release();
    }
  });

  it('verify --trust with a missing file, or one that is not a public JWK', async () => {
    const url = 'http://127.0.0.1:9/.well-known/protofly/stub/default';
    const missing = refusal(await protofly(['verify', url, '--trust', join(dir, 'nope.jwk')]), 1);
    expect(missing).toMatch(/^PF_ERR_CONFIG: cannot read --trust .*nope\.jwk/);
    for (const text of ['{ not json', '{"kty":"RSA","n":"x"}']) {
      const line = refusal(await protofly(['verify', url, '--trust', await file('bad.jwk', text)]), 1);
      expect(line).toMatch(/^PF_ERR_CONFIG: --trust .*bad\.jwk is not an Ed25519 public JWK/);
    }
    expect(refusal(await protofly(['verify', 'not a url']), 2)).toMatch(
      /^PF_ERR_USAGE: 'not a url' is not an http\(s\) URL/,
    );
  });

  it('publish --key given a public key, garbage, or a key of another domain than --domain', async () => {
    expect((await protofly(['keygen', '--domain', 'b.example', '--out', join(dir, 'keys')])).code).toBe(0);
    const out = join(dir, 'catalogue');
    const pub = refusal(
      await protofly([
        'publish',
        JSON_WS,
        '--key',
        join(dir, 'keys/b.example.pub.jwk'),
        '--domain',
        'b.example',
        '--out',
        out,
      ]),
      1,
    );
    expect(pub).toMatch(/^PF_ERR_CONFIG: key .*b\.example\.pub\.jwk is not a private key/);
    const garbage = refusal(
      await protofly([
        'publish',
        JSON_WS,
        '--key',
        await file('garbage.key', 'garbage\n'),
        '--domain',
        'b.example',
        '--out',
        out,
      ]),
      1,
    );
    expect(garbage).toMatch(/^PF_ERR_CONFIG: key .*garbage\.key is not a private key/);
    const nameless = refusal(
      await protofly(['publish', JSON_WS, '--key', join(dir, 'garbage.key'), '--out', out]),
      1,
    );
    expect(nameless).toMatch(/^PF_ERR_CONFIG: key .*garbage\.key names no domain .*--domain/);
    const other = refusal(
      await protofly([
        'publish',
        JSON_WS,
        '--key',
        join(dir, 'keys/b.example.key'),
        '--domain',
        'c.example',
        '--out',
        out,
      ]),
      1,
    );
    expect(other).toMatch(
      /^PF_ERR_CONFIG: key .*b\.example\.key is the key of b\.example, not of c\.example/,
    );
  });

  it('users with a missing data directory or users file', async () => {
    const line = refusal(await protofly(['users', 'list', '--data', join(dir, 'no-such-domain')]), 1);
    expect(line).toMatch(/^PF_ERR_CONFIG: no domain data directory at .*no-such-domain/);
    expect(refusal(await protofly(['users', 'list', '--file', join(dir, 'no.yaml')]), 1)).toMatch(
      /^PF_ERR_CONFIG: no users file/,
    );
    expect(refusal(await protofly(['users', 'frob', '--data', dir]), 2)).toMatch(
      /^PF_ERR_USAGE: unknown action 'frob'/,
    );
  });

  it('chat without a way to log in, or with a token file that is not there', async () => {
    const who = ['chat', '--as', 'user://a.example/alice', 'user://b.example/bob'];
    expect(refusal(await protofly(who), 2)).toMatch(
      /^PF_ERR_USAGE: one of --key, --token-file or PROTOFLY_PASSWORD is required/,
    );
    const missing = refusal(await protofly([...who, '--token-file', join(dir, 'no.jwt')]), 1);
    expect(missing).toMatch(/^PF_ERR_CONFIG: cannot read token file .*no\.jwt/);
  });

  it('release and rollback into a folder that is no domain data directory', async () => {
    await mkdir(join(dir, 'empty-data'), { recursive: true });
    const line = refusal(await protofly(['release', JSON_WS, '--data', join(dir, 'empty-data')]), 1);
    expect(line).toMatch(/^PF_ERR_CONFIG: .*empty-data is not a domain data directory/);
    const version = refusal(
      await protofly(['rollback', 'json-ws', 'latest', '--data', join(dir, 'empty-data')]),
      1,
    );
    expect(version).toMatch(/^PF_ERR_CONFIG: .*empty-data is not a domain data directory/);
  });

  it('new stub into a folder that is not empty, under a name no stub may have, or of something else', async () => {
    const full = join(dir, 'full');
    await mkdir(full);
    await writeFile(join(full, 'notes.txt'), 'mine');
    expect(refusal(await protofly(['new', 'stub', full]), 1)).toMatch(/^PF_ERR_CONFIG: .*full is not empty/);
    expect(refusal(await protofly(['new', 'stub', join(dir, 'Line_Chat')]), 2)).toMatch(
      /^PF_ERR_USAGE: 'Line_Chat' is not a stub name .*--name/,
    );
    expect(refusal(await protofly(['new', 'app', join(dir, 'x')]), 2)).toMatch(
      /^PF_ERR_USAGE: what to make: stub/,
    );
  });

  it('dev without a server, on a folder with no stub, or with a server module that has no start()', async () => {
    expect(refusal(await protofly(['dev', dir]), 2)).toMatch(
      /^PF_ERR_USAGE: give --server <module> or --upstream/,
    );
    expect(refusal(await protofly(['dev', dir, '--upstream', 'http://x/']), 2)).toMatch(
      /^PF_ERR_USAGE: --upstream must be a ws:\/\/ or wss:\/\/ URL/,
    );
    expect(
      refusal(await protofly(['dev', join(dir, 'nothing'), '--upstream', 'ws://127.0.0.1:9/']), 1),
    ).toMatch(/^PF_ERR_CONFIG: cannot read manifest .*nothing\/protofly\.json/);
    const server = await file('no-start.mjs', 'export const begin = () => {};\n');
    expect(refusal(await protofly(['dev', JSON_WS, '--server', server]), 1)).toMatch(
      /^PF_ERR_CONFIG: .*no-start\.mjs exports no start\(\)/,
    );
  });
});
