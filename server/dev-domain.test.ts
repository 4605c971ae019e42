import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import type { StubDescriptor } from '../core/generated/types.js';
import { generateDomainKey } from './catalogue/keys.js';
import { type DevPublish, startDevDomain } from './dev-domain.js';

/** The development domain on the scaffold's stub, in a folder of its own. */

const TEMPLATE = join(import.meta.dirname, '../cli/templates/stub');
/** Nothing connects in these cases: the relay's server is never dialled. */
const UPSTREAM = 'ws://127.0.0.1:9/';

let dir: string;
let plugin: string;
let data: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-dev-'));
  plugin = join(dir, 'linechat');
  data = join(dir, 'data');
  await cp(TEMPLATE, plugin, { recursive: true });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Publications as they come, and a wait for the next one. */
function publications() {
  const seen: DevPublish[] = [];
  let wake = () => {};
  return {
    seen,
    onPublish: (e: DevPublish) => {
      seen.push(e);
      wake();
    },
    next: (count: number) =>
      new Promise<DevPublish>((resolve) => {
        wake = () => seen.length >= count && resolve(seen[count - 1]!);
        wake();
      }),
  };
}

describe('protofly dev, its domain', () => {
  it('publishes a development version at start, pointed at its relay and signed by a development key', async () => {
    const d = await startDevDomain({ pluginDir: plugin, dataDir: data, upstream: UPSTREAM });
    try {
      const s = d.first.descriptor as StubDescriptor;
      expect(d.domain).toBe('linechat.localhost');
      expect(s.version).toBe('0.1.0-dev.1');
      expect(s.constraints.endpoints).toEqual([d.relayUrl]);
      expect(s.configuration.defaults?.url).toBe(d.relayUrl);
      const keys = (await (await fetch(`${d.catalogueUrl}/.well-known/protofly/keys`)).json()) as {
        keys: { kid: string; development?: boolean }[];
      };
      expect(keys.keys).toEqual([expect.objectContaining({ kid: s.signature.keyId, development: true })]);
      const served = await (await fetch(`${d.catalogueUrl}/.well-known/protofly/stub/default`)).json();
      expect(served).toMatchObject({ name: 'linechat', version: '0.1.0-dev.1' });
    } finally {
      await d.close();
    }
  });

  it('publishes the next version on a save, reports a stub that does not bundle and keeps serving the last', async () => {
    const p = publications();
    const d = await startDevDomain({
      pluginDir: plugin,
      dataDir: data,
      upstream: UPSTREAM,
      onPublish: p.onPublish,
    });
    const source = join(plugin, 'src/index.ts');
    const text = await readFile(source, 'utf8');
    try {
      await writeFile(source, `${text}\nexport const broken = ;\n`);
      const failed = await p.next(1);
      expect(failed.kind).toBe('failed');
      expect(failed.kind === 'failed' && isProtoflyError(failed.error, 'PF_ERR_CONFIG')).toBe(true);
      await writeFile(
        source,
        text.replace("'linechat: a frame not understood'", "'linechat: a frame it does not know'"),
      );
      const published = await p.next(2);
      expect(published.kind === 'published' && published.result.descriptor.version).toBe('0.1.0-dev.2');
      const served = await (await fetch(`${d.catalogueUrl}/.well-known/protofly/stub/default`)).json();
      expect(served).toMatchObject({ version: '0.1.0-dev.2' });
    } finally {
      await d.close();
    }
    // A new run goes on from there, with the same key: runtimes keep trusting it, versions go up.
    const again = await startDevDomain({ pluginDir: plugin, dataDir: data, upstream: UPSTREAM });
    try {
      expect(again.first.descriptor.version).toBe('0.1.0-dev.3');
      expect(again.first.descriptor.signature.keyId).toBe(
        (p.seen[1] as Extract<DevPublish, { kind: 'published' }>).result.descriptor.signature.keyId,
      );
    } finally {
      await again.close();
    }
  });

  it("refuses to sign with a key that is not a development key (a domain's own)", async () => {
    await generateDomainKey('linechat.localhost', join(data, 'keys'));
    const err = await startDevDomain({ pluginDir: plugin, dataDir: data, upstream: UPSTREAM }).catch(
      (e) => e,
    );
    expect(isProtoflyError(err, 'PF_ERR_CONFIG'), String(err)).toBe(true);
    expect(err.message).toMatch(/is not a development key/);
  });
});
