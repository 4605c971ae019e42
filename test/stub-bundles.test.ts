import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundlePlugin } from '../server/catalogue/publish.js';

/**
 * A stub's package carries what it imports. The generated validators weigh some 300 KB against a
 * stub's 20-40, and `core/message.ts` imports them to check messages: a stub that takes
 * `response()` from there instead of from the kit (`core/response.ts`, `protofly/stub`)
 * grows tenfold. The check is on what went in, not on a byte budget that code growing for good
 * reasons would break: the source files of each package as `protofly publish` bundles it.
 */

const ROOT = resolve(import.meta.dirname, '..');
const STUBS = join(ROOT, 'plugins/stubs');
/** What no stub package may hold: the validators, and what imports them for their values. */
const HEAVY = /^core\/(?:generated\/validators|validate\.ts|message\.ts)/;

/** The repository files (or absolute paths, outside it) bundled into `entry` of `dir`, as publishing bundles a stub. */
async function sourcesOf(dir: string, entry: string): Promise<string[]> {
  const { map } = await bundlePlugin(dir, entry, 'stub', false);
  const { sources } = JSON.parse(new TextDecoder().decode(map)) as { sources: string[] };
  return sources.map((s) => {
    const path = relative(ROOT, resolve(dir, s));
    return path.startsWith('..') ? resolve(dir, s) : path;
  });
}

const stubs = readdirSync(STUBS).filter((name) => existsSync(join(STUBS, name, 'protofly.json')));

describe('stub packages', () => {
  it.each(stubs)(
    '%s carries no schema validators',
    async (name) => {
      const sources = await sourcesOf(join(STUBS, name), 'index.ts');
      expect(sources).toContain(`plugins/stubs/${name}/index.ts`);
      expect(sources.filter((s) => HEAVY.test(s))).toEqual([]);
    },
    60_000,
  );

  it('the kit (protofly/stub) is core files only, none of them heavy', async () => {
    const sources = await sourcesOf(join(ROOT, 'entry'), 'stub.ts');
    expect(sources).toContain('core/stub-kit/shared-session.ts');
    expect(sources.filter((s) => !s.startsWith('core/') && s !== 'entry/stub.ts')).toEqual([]);
    expect(sources.filter((s) => HEAVY.test(s))).toEqual([]);
  }, 60_000);

  it('finds the validators in a stub that builds its responses with core/message.ts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-heavy-stub-'));
    try {
      const message = join(ROOT, 'core/message.ts');
      await writeFile(
        join(dir, 'index.ts'),
        `import { response } from ${JSON.stringify(message)};
export default () => ({ postMessage: (m: never) => response(m, 200), stop() {} });\n`,
      );
      const sources = await sourcesOf(dir, 'index.ts');
      expect(sources.filter((s) => HEAVY.test(s))).toEqual(
        expect.arrayContaining(['core/message.ts', 'core/generated/validators.js']),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
