import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProtoflyError } from '../../core/errors.js';
import { CacheStore, type Store } from '../../core/store.js';
import { storageError } from '../../node/files.js';
import { CatalogueClient } from '../../runtime/catalogue.js';
import { Loader } from '../../runtime/loader.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { Runtime } from '../../runtime/runtime.js';
import { TrustStore } from '../../runtime/trust.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { full, readOnly } from './disk.js';
import { type FaultWorld, faultWorld } from './world.js';

/**
 * Disk faults: a runtime whose data directory is full or read-only, and `protofly serve` on a
 * read-only data directory. Each gives a coded error (PF_ERR_STORAGE), never a raw ENOSPC or
 * EROFS, and what does not need the disk goes on.
 */

const BOB = 'user://b.example/bob';
const BIN = join(import.meta.dirname, '../../bin/protofly.js');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let world: FaultWorld | undefined;
const undo: (() => void)[] = [];
const hosts: NodeWorkerHost[] = [];
afterEach(async () => {
  await world?.close().catch(() => undefined);
  world = undefined;
  for (const u of undo.splice(0).reverse()) u();
  await Promise.all(hosts.splice(0).map((h) => h.terminate()));
}, 60_000);

function host(): NodeWorkerHost {
  const h = new NodeWorkerHost({ policy: developmentPolicy, log: quiet, watchdogMs: 15_000 });
  hosts.push(h);
  return h;
}

describe('disk faults', () => {
  it('a full package store: the conversation opens from the verified package in memory; the failed write is an error event', async () => {
    world = await faultWorld();
    const dataDir = join(world.dir, 'alice');
    // A 4 KiB tmpfs where the packages go, which the stub's bundle does not fit; where this
    // machine cannot mount one, the same ENOSPC injected at the Store boundary.
    const unmount = await full(join(dataDir, 'packages'), 4);
    let runtime: Runtime;
    if (unmount) {
      undo.push(unmount);
      runtime = world.runtime('alice', { host: host(), dataDir }).runtime;
    } else {
      const enospc = Object.assign(new Error('no space left on device'), { code: 'ENOSPC', path: dataDir });
      const fullStore: Store = {
        get: async () => undefined,
        set: async () => Promise.reject(storageError(enospc, `write ${dataDir}`)),
        delete: async () => undefined,
      };
      const loader = new Loader({
        trust: new TrustStore({ mode: 'tofu' }),
        catalogue: new CatalogueClient({ catalogues: { 'b.example': world.catalogueUrl } }),
        store: new CacheStore(fullStore, (err) => runtime.fault(err)),
        policy: developmentPolicy,
      });
      runtime = new Runtime({ identity: world.identity('alice'), loader, host: host() });
      undo.push(() => void runtime.close());
    }
    const errors: ProtoflyError[] = [];
    runtime.on('error', (err) => errors.push(err));
    const withBob = await runtime.conversation(BOB);
    expect(withBob.status).toBe('live');
    const storage = errors.filter((e) => e.code === 'PF_ERR_STORAGE');
    expect(storage.length).toBeGreaterThan(0);
    expect(storage[0]!.detail).toMatchObject({ code: 'ENOSPC' });
    expect(storage[0]!.message).toMatch(/the disk is full/);
  });

  it('a read-only data directory: what it holds still opens conversations; a key it cannot record is PF_ERR_STORAGE', async () => {
    world = await faultWorld();
    const dataDir = join(world.dir, 'alice');
    const first = world.runtime('alice', { host: host(), dataDir });
    await first.runtime.conversation(BOB);
    await first.close();
    undo.push(await readOnly(dataDir));
    // Trusted key and verified package are read from it; nothing needs writing.
    const again = world.runtime('alice', { host: host(), dataDir });
    expect((await again.runtime.conversation(BOB)).status).toBe('live');
    // A fresh, read-only directory: trust on first use cannot record the key, and says why.
    const empty = join(world.dir, 'carol');
    undo.push(await readOnly(empty));
    const carol = world.runtime('carol', { host: host(), dataDir: empty });
    await expect(carol.runtime.conversation(BOB)).rejects.toMatchObject({
      code: 'PF_ERR_STORAGE',
      message: expect.stringMatching(/EROFS|EACCES/),
    });
  });

  it('protofly serve on a read-only data directory refuses with one coded line, no stack trace', async () => {
    world = await faultWorld();
    const dataDir = join(world.dir, 'served');
    await mkdir(dataDir, { recursive: true });
    undo.push(await readOnly(dataDir));
    const config = join(world.dir, 'domain.yaml');
    await writeFile(
      config,
      `domain: c.example\ndataDir: ${dataDir}\nports: { catalogue: 0, messaging: 0, admin: 0 }\n`,
    );
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    expect(await new Promise((r) => child.on('exit', r))).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^PF_ERR_STORAGE: cannot write the data directory ${dataDir}: (EROFS|EACCES)`),
    );
  });
});
