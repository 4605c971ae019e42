import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProtoflyError } from '../../core/errors.js';
import { CatalogueClient, EVENTS_PATH } from '../../runtime/catalogue.js';
import { type PublishNotice, UpdateWatcher } from '../../runtime/updates.js';
import { eventually } from '../../test/support/conversation.js';
import { type TestCatalogue, testCatalogue } from '../../test/support/domain-catalogue.js';
import { publish } from './publish.js';
import { createCatalogueServer } from './server.js';

/** The update notice end to end: a publish into the directory, the catalogue's stream or its version list, a watcher. */

const DOMAIN = 'events.test';
const ECHO = join(import.meta.dirname, '../../test/fixtures/stubs/echo');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function catalogue(): Promise<TestCatalogue> {
  const cat = await testCatalogue(DOMAIN);
  cleanups.push(() => cat.close());
  await cat.publish(ECHO, true);
  return cat;
}

function watch(cat: TestCatalogue, fetcher?: typeof fetch) {
  const updates: (PublishNotice | undefined)[] = [];
  const errors: ProtoflyError[] = [];
  const watcher = new UpdateWatcher({
    catalogue: new CatalogueClient({
      catalogues: { [DOMAIN]: cat.url },
      ...(fetcher ? { fetch: fetcher } : {}),
    }),
    pollMs: 100,
    retryMs: 50,
    maxRetryMs: 200,
  });
  watcher.on('update', (domain, notice) => {
    expect(domain).toBe(DOMAIN);
    updates.push(notice);
  });
  watcher.on('error', (err) => errors.push(err));
  cleanups.push(() => watcher.close());
  return { watcher, updates, errors };
}

const release = (cat: TestCatalogue, version: string) =>
  publish({ pluginDir: ECHO, key: cat.key, out: cat.dir, version });

describe('catalogue update notice', () => {
  it('announces a version published into the directory to a subscribed watcher, by Server-Sent Events', async () => {
    const cat = await catalogue();
    const { watcher, updates } = watch(cat);
    watcher.subscribe(DOMAIN);
    // The first update is the check on connecting.
    await eventually(() => updates.length === 1, 'the watcher connected');
    expect(updates[0]).toBeUndefined();
    await release(cat, '1.1.0');
    await eventually(() => updates.some((n) => n?.version === '1.1.0'), 'the notice of 1.1.0');
    expect(updates.at(-1)).toEqual({ kind: 'stub', name: 'echo', version: '1.1.0' });
    // The fixture published 1.0.0 after the server started: news too, and nothing else is.
    expect(updates.filter((n) => n && n.version !== '1.0.0')).toHaveLength(1);
  });

  it('polls the version list with If-None-Match where a catalogue has no update stream', async () => {
    const cat = await catalogue();
    const statuses: number[] = [];
    // The real catalogue, as one that predates the update stream: its events path is a 404.
    const withoutStream: typeof fetch = async (input, init) => {
      const url = String(input);
      if (url.endsWith(EVENTS_PATH)) return new Response('{}', { status: 404 });
      const res = await fetch(input, init);
      statuses.push(res.status);
      return res;
    };
    const { watcher, updates } = watch(cat, withoutStream);
    watcher.subscribe(DOMAIN);
    await eventually(() => statuses.includes(304), 'a poll answered 304 Not Modified');
    expect(updates).toEqual([undefined]);
    await release(cat, '1.2.0');
    await eventually(() => updates.length === 2, 'a poll saw the new version list');
  });

  it('reports a catalogue that goes away once, and checks again when it is back', async () => {
    const cat = await catalogue();
    let failed = 0;
    const counting: typeof fetch = (input, init) =>
      fetch(input, init).catch((err) => {
        failed++;
        throw err;
      });
    const { watcher, updates, errors } = watch(cat, counting);
    const end = watcher.subscribe(DOMAIN);
    await eventually(() => updates.length === 1, 'the watcher connected');
    const port = Number(new URL(cat.url).port);
    await cat.server.close();
    await eventually(() => errors.length === 1, 'the outage reported');
    // Several retries fail meanwhile; the outage is still one report.
    const before = failed;
    await eventually(() => failed >= before + 3, 'three more failed retries');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('PF_ERR_FETCH');
    cat.server = createCatalogueServer({ dir: cat.dir });
    await cat.server.listen(port);
    await eventually(() => updates.length === 2, 'the check on reconnecting');
    end();
    expect(watcher.domains).toEqual([]);
  });

  it('refuses subscribers beyond its limit with 503, and ends the stream on close', async () => {
    const cat = await catalogue();
    const server = createCatalogueServer({ dir: cat.dir, maxSubscribers: 1 });
    const url = await server.listen();
    cleanups.push(() => server.close());
    const first = await fetch(`${url}${EVENTS_PATH}`);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const second = await fetch(`${url}${EVENTS_PATH}`);
    expect(second.status).toBe(503);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('PF_ERR_BUSY');
    const reading = first.text();
    await server.close();
    expect(await reading).toMatch(/^retry: 1000\n\n/);
  });
});
