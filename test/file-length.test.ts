/**
 * The size rule, checked: a hand-written source file over 400 lines says at its top why it is
 * one file (a `//` line naming its length and the one thing it does), so that a file grows past
 * it only by a decision someone wrote down. Tests, generated code and fixtures are out.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 400;
const SOURCE = /\.[cm]?[jt]s$/;
const NOT_HAND_WRITTEN = /\.test\.ts$|\.d\.ts$|\/generated\/|\/fixtures\//;
/** The reason's form, as the files that have one write it: "// Over 400 lines, for one thing: ..." */
const REASON = /^\/\/ (?:A little over|Over) 400 lines, for one thing: \S/;

/** The files over the bound without a reason, with their length. */
function unexplained(files: readonly { path: string; text: string }[]): string[] {
  return files
    .map(({ path, text }) => ({ path, text, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0) }))
    .filter(({ lines, text }) => lines > MAX_LINES && !REASON.test(text))
    .map(({ path, lines }) => `${path}: ${lines} lines, no reason at its top`);
}

const root = join(import.meta.dirname, '..');

describe('file length', () => {
  it(`every hand-written source file over ${MAX_LINES} lines says at its top why it is one file`, () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => SOURCE.test(f) && !NOT_HAND_WRITTEN.test(f) && existsSync(join(root, f)))
      .map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(unexplained(files)).toEqual([]);
  });

  it('names a long file without a reason, and takes one with it', () => {
    const long = 'const a = 1;\n'.repeat(MAX_LINES + 1);
    expect(
      unexplained([
        { path: 'core/long.ts', text: long },
        { path: 'core/explained.ts', text: `// Over 400 lines, for one thing: a table.\n${long}` },
        { path: 'core/short.ts', text: 'const a = 1;\n'.repeat(MAX_LINES) },
      ]),
    ).toEqual([`core/long.ts: ${MAX_LINES + 1} lines, no reason at its top`]);
  });
});
