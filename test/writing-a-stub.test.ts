import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/writing-a-stub.md explains the contract on the scaffold's stub, quoting it: each code
 * block after a `<!-- from <path> -->` line must be in that file verbatim, so that an edit of
 * the scaffold that the guide does not follow fails here.
 */

const ROOT = join(import.meta.dirname, '..');
const EXCERPT = /<!-- from (\S+) -->\n```\w*\n([\s\S]*?)\n```/g;

describe('the guide to writing a stub', () => {
  it("quotes the scaffold's files verbatim", async () => {
    const guide = await readFile(join(ROOT, 'docs/writing-a-stub.md'), 'utf8');
    const excerpts = [...guide.matchAll(EXCERPT)].map(([, path, code]) => ({ path: path!, code: code! }));
    expect(excerpts.length).toBeGreaterThanOrEqual(10);
    for (const { path, code } of excerpts) {
      expect(path, 'an excerpt comes from the scaffold').toMatch(/^cli\/templates\/stub\//);
      const source = await readFile(join(ROOT, path), 'utf8');
      expect(
        source.includes(code),
        `docs/writing-a-stub.md quotes ${path} as it is no longer:\n${code}`,
      ).toBe(true);
    }
    // Every file the scaffold's stub is made of is quoted from.
    const quoted = new Set(excerpts.map((e) => e.path));
    for (const file of ['src/index.ts', 'protofly.json', 'test/stub.test.ts'])
      expect(quoted).toContain(`cli/templates/stub/${file}`);
  });

  it('is linked from the README', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('](docs/writing-a-stub.md)');
  });
});
