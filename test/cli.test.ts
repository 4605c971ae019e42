import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogueServer, createCatalogueServer } from '../server/catalogue/server.js';
import { lastLine, protofly as run } from './support/cli.js';

const ECHO = join(import.meta.dirname, 'fixtures/stubs/echo');

const protofly = (...args: string[]) => run(args, { PROTOFLY_HOME: home });

let dir: string;
let home: string;
let server: CatalogueServer;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-cli-'));
  home = join(dir, 'home');
  server = createCatalogueServer({ dir: join(dir, 'catalogue') });
  url = await server.listen();
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('protofly command', () => {
  it('prints help and version', async () => {
    const help = await protofly('--help');
    expect(help.code).toBe(0);
    for (const command of ['keygen', 'publish', 'catalogue', 'verify'])
      expect(help.stdout).toContain(command);
    expect((await protofly('--version')).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const unknown = await protofly('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/PF_ERR_USAGE: unknown command 'frobnicate'/);
  });

  it('keygen writes a 0600 private key and a public JWK, and never overwrites', async () => {
    const made = await protofly('keygen', '--domain', 'b.example', '--out', join(dir, 'keys'));
    expect(made.code).toBe(0);
    expect((await stat(join(dir, 'keys/b.example.key'))).mode & 0o777).toBe(0o600);
    const again = await protofly('keygen', '--domain', 'b.example', '--out', join(dir, 'keys'));
    expect(again.code).toBe(1);
    expect(lastLine(again.stderr)).toMatch(/^PF_ERR_CONFIG: .*b\.example\.key exists/);
    expect((await protofly('keygen', '--domain', 'B_AD', '--out', dir)).stderr).toMatch(/PF_ERR_ADDRESS/);
  });

  it('publish then verify prints every check; a bad trust key fails with a coded last line', async () => {
    const published = await protofly(
      'publish',
      ECHO,
      '--key',
      join(dir, 'keys/b.example.key'),
      '--out',
      join(dir, 'catalogue'),
    );
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(/published stub b\.example\/echo@1\.0\.0/);

    const ok = await protofly(
      'verify',
      `${url}/.well-known/protofly/stub/echo`,
      '--trust',
      join(dir, 'keys/b.example.pub.jwk'),
    );
    expect(ok.code).toBe(0);
    for (const check of ['schema', 'signature', 'engine', 'integrity'])
      expect(ok.stdout).toMatch(new RegExp(`ok ${check}`));

    await protofly('keygen', '--domain', 'b.example', '--out', join(dir, 'other'));
    const bad = await protofly(
      'verify',
      `${url}/.well-known/protofly/stub/echo`,
      '--trust',
      join(dir, 'other/b.example.pub.jwk'),
    );
    expect(bad.code).toBe(1);
    expect(lastLine(bad.stderr)).toMatch(/^PF_ERR_UNTRUSTED_KEY: /);
  });

  it('verify without --trust uses trust on first use, recorded under PROTOFLY_HOME', async () => {
    const first = await protofly('verify', `${url}/.well-known/protofly/stub/default`);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/\(first-use\)/);
    expect((await protofly('verify', `${url}/.well-known/protofly/stub/default`)).stdout).toMatch(
      /\(recorded\)/,
    );
  });

  it('refuses to publish a stub that imports a Node module', async () => {
    const evil = join(dir, 'evil');
    await mkdir(evil);
    await writeFile(
      join(evil, 'index.ts'),
      "import { readFileSync } from 'node:fs';\nexport default () => readFileSync('/etc/passwd');\n",
    );
    await writeFile(
      join(evil, 'protofly.json'),
      JSON.stringify({
        kind: 'stub',
        name: 'evil',
        version: '1.0.0',
        protocol: 'x',
        capabilities: ['chat'],
        engine: '*',
        entry: 'index.ts',
        configuration: { schema: {} },
        constraints: { endpoints: [], runtimes: ['node'] },
      }),
    );
    const run = await protofly(
      'publish',
      evil,
      '--key',
      join(dir, 'keys/b.example.key'),
      '--out',
      join(dir, 'catalogue'),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot bundle .*node:fs/);
  });
});
