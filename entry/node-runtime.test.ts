import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isProtoflyError } from '../core/errors.js';
import type { CheckEvent } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { signingInput } from '../runtime/signature.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { generateDomainKey, signWith } from '../server/catalogue/keys.js';
import { type TestCatalogue, testCatalogue } from '../test/support/domain-catalogue.js';
import { createNodeRuntime, type NodeRuntimeOptions } from './node-runtime.js';

const ECHO = join(import.meta.dirname, '../test/fixtures/stubs/echo');
const DOMAIN = 'b.example';

let host: NodeWorkerHost;
let cat: TestCatalogue;
let work: string;

beforeAll(() => {
  host = new NodeWorkerHost({ policy: developmentPolicy });
});
afterAll(() => host.terminate());
beforeEach(async () => {
  cat = await testCatalogue(DOMAIN);
  work = await mkdtemp(join(tmpdir(), 'pf-node-runtime-'));
});
afterEach(async () => {
  await cat.close();
  await rm(work, { recursive: true, force: true });
});

/** Loads b.example's default stub in a fresh runtime: how its signature was trusted, or the refusal's code. */
async function loadIn(options: Partial<NodeRuntimeOptions>): Promise<string> {
  const checks: CheckEvent[] = [];
  const rt = createNodeRuntime({
    policy: developmentPolicy,
    identity: { address: 'user://a.example/alice' },
    catalogues: { [DOMAIN]: cat.url },
    host,
    onCheck: (e) => checks.push(e),
    ...options,
  });
  try {
    const pkg = await rt.loader.load({ domain: DOMAIN });
    const how = /\((\S+)\)$/.exec(checks.find((c) => c.check === 'signature')!.detail)![1];
    return `${pkg.descriptor.version} ${how}`;
  } catch (err) {
    if (!isProtoflyError(err)) throw err;
    return err.code satisfies ErrorCode;
  } finally {
    await rt.close();
  }
}

describe('createNodeRuntime keeps trust and the versions seen on disk', () => {
  it('a second runtime on the same data directory keeps the first one’s trust and downgrade history', async () => {
    const v1 = await cat.publish(ECHO, true);
    const manifest = JSON.parse(await readFile(join(ECHO, 'protofly.json'), 'utf8'));
    const newer = join(work, 'echo-1.1.0');
    await cp(ECHO, newer, { recursive: true });
    await writeFile(join(newer, 'protofly.json'), JSON.stringify({ ...manifest, version: '1.1.0' }));
    const v2 = await cat.publish(newer, true);
    const dataDir = join(work, 'data');

    expect(await loadIn({ dataDir })).toBe('1.1.0 first-use');
    expect(await loadIn({ dataDir })).toBe('1.1.0 recorded');

    // The catalogue rolls back to 1.0.0 (validly signed): a restart does not forget 1.1.0 was seen.
    await rm(v2.descriptorFile);
    await cat.restart();
    expect(await loadIn({ dataDir })).toBe('PF_ERR_DOWNGRADE');
    // Memory only, when asked for: nothing remembered, nothing refused.
    expect(await loadIn({ dataDir: false })).toBe('1.0.0 first-use');

    // Whoever takes over the catalogue signs with their own key: a restart is no new first use.
    const usurper = await generateDomainKey(DOMAIN, join(work, 'usurper'));
    const d = JSON.parse(await readFile(v1.descriptorFile, 'utf8'));
    delete d.signature;
    d.signature = signWith(usurper, signingInput(d));
    await writeFile(v1.descriptorFile, JSON.stringify(d));
    await writeFile(join(cat.dir, 'keys.json'), JSON.stringify({ keys: [usurper.publicJwk] }));
    await cat.restart();
    expect(await loadIn({ dataDir })).toBe('PF_ERR_UNTRUSTED_KEY');
    expect(await loadIn({ dataDir: false })).toBe('1.0.0 first-use');
  });

  it('keeps them under $PROTOFLY_HOME by default, where protofly verify keeps its own', async () => {
    await cat.publish(ECHO, true);
    const home = join(work, 'home');
    const before = process.env.PROTOFLY_HOME;
    process.env.PROTOFLY_HOME = home;
    try {
      expect(await loadIn({})).toBe('1.0.0 first-use');
      expect(await loadIn({})).toBe('1.0.0 recorded');
      expect(await readdir(join(home, 'trust'))).toEqual([encodeURIComponent(`trust:${DOMAIN}`)]);
    } finally {
      if (before === undefined) delete process.env.PROTOFLY_HOME;
      else process.env.PROTOFLY_HOME = before;
    }
  });
});
