import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StubDescriptor } from '../core/generated/types.js';
import { MemoryStore } from '../core/store.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { Loader } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { TrustStore } from '../runtime/trust.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { layout } from '../server/catalogue/layout.js';
import { createCatalogueServer } from '../server/catalogue/server.js';
import { lastLine, protofly } from './support/cli.js';
import { eventually } from './support/conversation.js';
import { type Domains, startDomains } from './support/domains.js';

/**
 * A provider releases and rolls back from the command line: `protofly release` and `protofly
 * rollback` as child processes against a running domain's data directory, real runtimes with
 * the worker sandbox following it live.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const JSON_WS = join(import.meta.dirname, '../plugins/stubs/json-ws');
const WATCH = { retryMs: 50, maxRetryMs: 200, pollMs: 100 };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let host: NodeWorkerHost;
let domains: Domains | undefined;
let scratch: string;

beforeAll(async () => {
  host = new NodeWorkerHost({ policy: developmentPolicy, log: quiet });
  await host.ready();
  scratch = await mkdtemp(join(tmpdir(), 'pf-release-'));
});
afterAll(async () => {
  await host?.terminate();
  await rm(scratch, { recursive: true, force: true });
});
afterEach(async () => {
  await domains?.close();
  domains = undefined;
});

const text = (m: Incoming) => (m.body as { text: string }).text;
function inbox(c: Conversation): string[] {
  const texts: string[] = [];
  c.on('message', (m) => texts.push(text(m)));
  return texts;
}
const published = async (catalogue: string, version: string) =>
  JSON.parse(
    await readFile(layout.descriptor(catalogue, 'stub', 'json-ws', version), 'utf8'),
  ) as StubDescriptor;

// Each step spawns the command, as a provider runs it: seconds apiece on a loaded machine.
describe('protofly release and rollback, against a running domain', { timeout: 120_000 }, () => {
  it('release: live and new conversations take 0.2.0 as deployed; rollback: 0.1.0 comes back, signed as a rollback, and the old descriptor itself stays a downgrade', async () => {
    domains = await startDomains(['a.example', 'b.example']);
    const d = domains;
    const b = d.byName.get('b.example')!;
    const catalogue = join(b.dataDir, 'catalogue');
    const options = { host, updates: { 'b.example': 'live' as const }, watch: WATCH };
    const bob = d.runtime(BOB, options);
    await bob.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
    const alice = d.runtime(ALICE, options);
    const withBob = await alice.runtime.conversation(BOB);
    await withBob.send('on 0.1.0');
    const withAlice = await incoming;
    const atBob = inbox(withAlice);
    expect(withBob.carrier.version).toBe('0.1.0');

    const released = await protofly(['release', JSON_WS, '--data', b.dataDir, '--version', '0.2.0']);
    expect(released.stderr).toBe('');
    expect(released.code).toBe(0);
    expect(released.stdout).toMatch(/^published stub b\.example\/json-ws@0\.2\.0/);
    // What the domain filled in for its deployment came along, signed.
    const first = await published(catalogue, '0.1.0');
    const second = await published(catalogue, '0.2.0');
    expect(second.configuration.defaults?.url).toBe(b.nodeUrl);
    expect(second.constraints.endpoints).toEqual(first.constraints.endpoints);

    await eventually(() => withBob.carrier.version === '0.2.0', "Alice's live conversation on 0.2.0");
    await eventually(() => withAlice.carrier.version === '0.2.0', "Bob's live conversation on 0.2.0");
    await withBob.send('on 0.2.0');
    await eventually(() => atBob.includes('on 0.2.0'), 'a chat over 0.2.0');
    const carol = d.runtime(CAROL, { host });
    await carol.runtime.register();
    expect((await alice.runtime.conversation(CAROL)).carrier.version).toBe('0.2.0');

    const rolledBack = await protofly(['rollback', 'json-ws', '0.1.0', '--data', b.dataDir]);
    expect(rolledBack.stderr).toBe('');
    expect(rolledBack.code).toBe(0);
    expect(rolledBack.stdout).toMatch(/json-ws@0\.2\.1 .*a rollback of 0\.2\.0 to 0\.1\.0/);
    const back = await published(catalogue, '0.2.1');
    expect(back.rollback).toEqual({ of: '0.2.0', to: '0.1.0' });
    expect(back.sourcePackage).toEqual(first.sourcePackage);
    expect(back.configuration).toEqual(first.configuration);

    await eventually(() => withBob.carrier.version === '0.2.1', "Alice's live conversation rolled back");
    expect(withBob.carrier.integrity).toBe(first.sourcePackage.integrity);
    await withBob.send('rolled back');
    await eventually(() => atBob.includes('rolled back'), 'a chat over the rolled-back version');
    expect(withBob.status).toBe('live');

    // Downgrade protection is as it was: a catalogue that serves 0.1.0's own descriptor as the
    // newest (a stale mirror) is refused by a loader that saw the rollback.
    const trust = new TrustStore({ mode: 'pinned', pinned: { 'b.example': [b.key.publicJwk] } });
    const store = new MemoryStore();
    const real = new Loader({
      trust,
      store,
      catalogue: new CatalogueClient({ catalogues: d.catalogues }),
      policy: developmentPolicy,
    });
    expect((await real.load({ domain: 'b.example' })).descriptor.version).toBe('0.2.1');
    const stale = join(scratch, 'stale');
    await cp(catalogue, stale, { recursive: true });
    for (const v of ['0.2.0', '0.2.1']) await rm(layout.descriptor(stale, 'stub', 'json-ws', v));
    const mirror = createCatalogueServer({ dir: stale });
    try {
      const url = await mirror.listen();
      const replayed = new Loader({
        trust,
        store,
        catalogue: new CatalogueClient({ catalogues: { 'b.example': url } }),
        policy: developmentPolicy,
      });
      await expect(replayed.load({ domain: 'b.example' })).rejects.toMatchObject({
        code: 'PF_ERR_DOWNGRADE',
      });
    } finally {
      await mirror.close();
    }
  });

  it('refuses, before anyone loads it, a release whose configuration the deployment leaves unsatisfied, naming the field', async () => {
    domains = await startDomains(['b.example']);
    const b = domains.byName.get('b.example')!;
    // A json-ws that now wants TLS: the domain's node is ws://, so no runtime could start it.
    const plugin = join(scratch, 'tls-only');
    await mkdir(plugin);
    const manifest = JSON.parse(await readFile(join(JSON_WS, 'protofly.json'), 'utf8'));
    manifest.configuration.schema.properties.url.enum = ['wss://b.example/'];
    await writeFile(join(plugin, 'protofly.json'), JSON.stringify(manifest));
    await writeFile(join(plugin, 'index.ts'), 'export default () => ({ postMessage() {}, stop() {} });\n');
    const run = await protofly(['release', plugin, '--data', b.dataDir, '--version', '0.3.0']);
    expect(run.code).toBe(1);
    expect(lastLine(run.stderr)).toMatch(
      /^PF_ERR_SCHEMA: b\.example\/json-ws@0\.3\.0 refused: .*\/url must be one of \[/,
    );
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    await expect(
      readFile(layout.descriptor(join(b.dataDir, 'catalogue'), 'stub', 'json-ws', '0.3.0')),
    ).rejects.toThrow();

    const older = await protofly(['release', JSON_WS, '--data', b.dataDir, '--version', '0.0.9']);
    expect(lastLine(older.stderr)).toMatch(/^PF_ERR_CONFIG: version 0\.0\.9 is older than json-ws@0\.1\.0/);
    const nothing = await protofly(['rollback', 'json-ws', '0.1.0', '--data', b.dataDir]);
    expect(lastLine(nothing.stderr)).toMatch(/^PF_ERR_CONFIG: json-ws@0\.1\.0 is the newest version already/);
    const missing = await protofly(['rollback', 'json-ws', '0.0.1', '--data', b.dataDir]);
    expect(lastLine(missing.stderr)).toMatch(/^PF_ERR_NOT_FOUND: json-ws@0\.0\.1 is not published/);
  });

  it("refuses to publish into another domain's catalogue, and writes nothing", async () => {
    domains = await startDomains(['b.example']);
    const b = domains.byName.get('b.example')!;
    const catalogue = join(b.dataDir, 'catalogue');
    const keys = join(scratch, 'a-keys');
    expect((await protofly(['keygen', '--domain', 'a.example', '--out', keys])).code).toBe(0);
    const before = await readFile(layout.aliases(catalogue), 'utf8');
    const keysBefore = await readFile(layout.keys(catalogue), 'utf8');
    const run = await protofly([
      'publish',
      join(import.meta.dirname, 'fixtures/stubs/echo'),
      '--key',
      join(keys, 'a.example.key'),
      '--out',
      catalogue,
      '--default',
    ]);
    expect(run.code).toBe(1);
    expect(lastLine(run.stderr)).toMatch(
      /^PF_ERR_FOREIGN_KEY: .* is the catalogue of b\.example, .*this key is a\.example's/,
    );
    expect(await readFile(layout.aliases(catalogue), 'utf8')).toBe(before);
    expect(await readFile(layout.keys(catalogue), 'utf8')).toBe(keysBefore);
  });
});
