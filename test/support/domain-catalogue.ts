import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DomainKey, generateDomainKey } from '../../server/catalogue/keys.js';
import { type PublishResult, publish } from '../../server/catalogue/publish.js';
import { type CatalogueServer, createCatalogueServer } from '../../server/catalogue/server.js';

/** A domain's real catalogue for tests: a fresh key, a catalogue directory, and a server on loopback. */
export interface TestCatalogue {
  readonly domain: string;
  readonly dir: string;
  readonly key: DomainKey;
  /** Base URL of the running server. */
  url: string;
  server: CatalogueServer;
  /** Package requests served so far. */
  packageRequests: number;
  publish(pluginDir: string, makeDefault?: boolean): Promise<PublishResult>;
  /** Restarts the server (its in-memory file cache starts empty). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Creates a domain with its key and a running catalogue. */
export async function testCatalogue(domain: string): Promise<TestCatalogue> {
  const dir = await mkdtemp(join(tmpdir(), `pf-cat-${domain}-`));
  const key = await generateDomainKey(domain, join(dir, 'keys'));
  const out = join(dir, 'catalogue');
  const start = async (): Promise<[CatalogueServer, string]> => {
    const server = createCatalogueServer({ dir: out });
    server.server.on('request', (req) => {
      if (req.url?.startsWith('/packages/')) t.packageRequests++;
    });
    return [server, await server.listen()];
  };
  const [server, url] = await start();
  const t: TestCatalogue = {
    domain,
    dir: out,
    key,
    url,
    server,
    packageRequests: 0,
    publish: (pluginDir, makeDefault) => publish({ pluginDir, key, out, makeDefault: makeDefault ?? false }),
    async restart() {
      await t.server.close();
      [t.server, t.url] = await start();
    },
    async close() {
      await t.server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}
