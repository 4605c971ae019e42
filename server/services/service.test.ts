import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { container as rootContainer } from 'tsyringe';
import { afterAll, describe, expect, it } from 'vitest';
import { testKey } from '../../test/support/identity-fixtures.js';
import { type Backend, type BackendContext, type Identity, registerBackend, TOKENS } from './service.js';

const identity: Identity = {
  authenticate: async (name) => `user://a.example/${name}`,
  issue: async (address) => `token-for-${address}`,
  verify: async (token) => token.replace('token-for-', ''),
};

const dir = mkdtempSync(join(tmpdir(), 'pf-inject-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const context = async (): Promise<Omit<BackendContext, 'resolve'>> => ({
  domain: 'a.example',
  config: {},
  dataDir: dir,
  key: await testKey(),
  peers: {},
  // The backends of these tests keep no files.
  writeAtomic: async (file) => {
    throw new Error(`unexpected write of ${file}`);
  },
});

describe('service tokens and injection', () => {
  it('resolves explicit @inject(TOKEN) parameters from esbuild output', async () => {
    const out = await build({
      entryPoints: [join(import.meta.dirname, '../../test/fixtures/injection/app.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      write: false,
      tsconfigRaw: { compilerOptions: { experimentalDecorators: true } },
      logLevel: 'silent',
    });
    const file = join(dir, 'app.mjs');
    writeFileSync(file, out.outputFiles[0]!.text);
    const app = await import(pathToFileURL(file).href);
    const child = app.container.createChildContainer();
    child.registerInstance(TOKENS.identity, identity);

    expect(child.resolve(app.Explicit).identity).toBe(identity);
    // Without metadata the bundled class cannot say what it needs: this is why every parameter names its token.
    expect(() => child.resolve(app.Implicit)).toThrow(/TypeInfo not known|Cannot inject|undefined/);
  });

  it('uses the same tokens across separately bundled copies (Symbol.for)', () => {
    expect(TOKENS.identity).toBe(Symbol.for('protofly.service.identity'));
  });

  it('registers a backend under its service token in a per-conversation child container', async () => {
    const backend: Backend<'identity'> = { service: 'identity', create: () => identity };
    const child = rootContainer.createChildContainer();
    await registerBackend(child, 'identity', backend, await context());
    expect(child.resolve(TOKENS.identity)).toBe(identity);
    expect(rootContainer.isRegistered(TOKENS.identity)).toBe(false);
    await child.dispose();
  });

  it('refuses a backend configured for the wrong service', async () => {
    const backend: Backend<'identity'> = { service: 'identity', create: () => identity };
    await expect(
      registerBackend(rootContainer.createChildContainer(), 'cdr', backend, await context()),
    ).rejects.toThrow(/PF_ERR_CONFIG: backend for 'identity' was configured to serve 'cdr'/);
  });
});
