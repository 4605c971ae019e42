import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../plugins/stubs/json-ws/config.js';
import { publish } from '../server/catalogue/publish.js';
import { testKey } from './support/identity-fixtures.js';

const pluginDir = join(import.meta.dirname, '../plugins/stubs/json-ws');

describe('json-ws manifest', () => {
  it('declares the defaults the stub applies', async () => {
    const manifest = JSON.parse(await readFile(join(pluginDir, 'protofly.json'), 'utf8'));
    expect(manifest.configuration.defaults).toEqual(DEFAULTS);
    expect(Object.keys(manifest.configuration.schema.properties).sort()).toEqual(
      ['url', ...Object.keys(DEFAULTS)].sort(),
    );
  });

  it('publishes as a valid signed descriptor whose package imports nothing', async () => {
    const key = { domain: 'b.example', ...(await testKey()) } as Parameters<typeof publish>[0]['key'];
    const result = await publish({
      pluginDir,
      key,
      out: await mkdtemp(join(tmpdir(), 'catalogue-')),
      deployment: { endpoints: ['ws://127.0.0.1:9000/'], defaults: { url: 'ws://127.0.0.1:9000/' } },
    });
    expect(result.descriptor).toMatchObject({
      kind: 'stub',
      name: 'json-ws',
      protocol: 'json-ws',
      domain: 'b.example',
    });
    const code = await readFile(result.packageFile, 'utf8');
    expect(code).not.toMatch(/^\s*import\s/m);
    // Compartments have Date (sandbox/worker/compartment.ts): the stub kit's shared session keeps
    // its timers' deadlines when they move to another conversation's context.
    expect(code).not.toMatch(/\brequire\(|Math\.random/);
    expect(code).toContain('export {');
  });
});
