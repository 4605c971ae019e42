import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
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

// Each case spawns the command: seconds apiece on a loaded machine.
describe('protofly command', { timeout: 120_000 }, () => {
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

  it('gives each command its options, their defaults and an example', async () => {
    const commands = [
      'serve',
      'demo',
      'keygen',
      'publish',
      'release',
      'rollback',
      'catalogue',
      'verify',
      'users',
      'cdr',
      'stats',
      'chat',
      'new',
      'dev',
      'login',
    ];
    // In-process: what is printed is the point here, not the process.
    const helps: { code: number; stdout: string }[] = [];
    for (const c of commands) {
      const printed: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((text: string) => printed.push(text));
      try {
        helps.push({ code: await main([c, '--help']), stdout: printed.join('\n') });
      } finally {
        log.mockRestore();
      }
    }
    for (const [i, help] of helps.entries()) {
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: protofly ${commands[i]}`);
      expect(help.stdout).toMatch(/Options:\n {2}--\S+/);
      expect(help.stdout).toMatch(new RegExp(`Example:\\n {2}.*protofly ${commands[i]} `));
    }
    expect(helps[6]!.stdout).toMatch(/--port <n> .*\(default 8080/);
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
    // Progress is for a terminal: a script sees only the result.
    expect(published.stderr).toBe('');

    const ok = await protofly(
      'verify',
      `${url}/.well-known/protofly/stub/echo`,
      '--trust',
      join(dir, 'keys/b.example.pub.jwk'),
    );
    expect(ok.code).toBe(0);
    for (const check of ['schema', 'signature', 'policy', 'engine', 'integrity'])
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

  it('verify without --trust uses trust on first use of the keys from the domain’s catalogue, recorded under PROTOFLY_HOME', async () => {
    const descriptor = `${url}/.well-known/protofly/stub/default`;
    // b.example's keys are at https://b.example unless its catalogue is named: the descriptor
    // URL's origin is not the domain's.
    const elsewhere = await protofly('verify', descriptor);
    expect(lastLine(elsewhere.stderr)).toMatch(/^PF_ERR_FETCH: keys of b\.example: /);
    expect(elsewhere.stderr).toMatch(/https:\/\/b\.example\/\.well-known\/protofly\/keys/);
    const first = await protofly('verify', descriptor, '--catalogue', url);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/\(first-use\)/);
    expect((await protofly('verify', descriptor, '--catalogue', url)).stdout).toMatch(/\(recorded\)/);
  });

  it('takes the domain from the key, whatever its file is called', async () => {
    const renamed = join(dir, 'signing.pem');
    await copyFile(join(dir, 'keys/b.example.key'), renamed);
    const run = await protofly('publish', ECHO, '--key', renamed, '--out', join(dir, 'renamed'));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^published stub b\.example\/echo@1\.0\.0/);
  });

  it('publish --default makes an unchanged published stub the default', async () => {
    const out = join(dir, 'defaults');
    const key = join(dir, 'keys/b.example.key');
    const PROBE = join(import.meta.dirname, 'stubs/probe');
    const aliases = async () => JSON.parse(await readFile(join(out, 'aliases.json'), 'utf8'));
    expect((await protofly('publish', ECHO, '--key', key, '--out', out)).code).toBe(0);
    expect((await protofly('publish', PROBE, '--key', key, '--out', out)).code).toBe(0);
    expect(await aliases()).toEqual({ 'stub/default': 'echo' });
    const again = await protofly('publish', PROBE, '--key', key, '--out', out, '--default');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^unchanged stub b\.example\/probe@1\.0\.0 .*, now the default$/m);
    expect(await aliases()).toEqual({ 'stub/default': 'probe' });
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
