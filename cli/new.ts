import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { packageRoot } from '../node/package-root.js';
import { PLUGIN_NAME } from '../server/release.js';
import { type Command, parse, usageError } from './command.js';

/** The stub project `protofly new stub` writes: real files, type-checked and tested with the package. */
const TEMPLATE = join(packageRoot(import.meta.url), 'cli/templates/stub');

/** Files whose name npm would not pack as is: stored under another name, written under theirs. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: '.gitignore' };

export const newProject: Command = {
  summary: 'write a new stub project: protofly.json, a small stub, its example server, tests and a dev loop',
  usage: 'protofly new stub <dir> [--name <stub name>]',
  help: [
    'Options:',
    "  --name <n>   the stub's name in protofly.json and package.json (default: the folder's name;",
    '               lower case letters, digits and dashes, starting with a letter)',
    '',
    'Writes into a new or empty folder a TypeScript project for a stub of linechat, a made-up line',
    "protocol (src/index.ts), the protocol's example server (server.ts), its tests against that",
    'server (npm test) and `npm run dev` (protofly dev: a local domain that publishes each save).',
    'The guide that explains it ships with the package: node_modules/protofly/docs/writing-a-stub.md.',
    '',
    'Example:',
    '  protofly new stub linechat && cd linechat && npm install && npm test',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parse(args, { name: { type: 'string' } }, 'new');
    const [what, dir] = positionals;
    if (what !== 'stub')
      throw usageError('new', `what to make: stub (protofly new stub <dir>), not '${what ?? ''}'`);
    if (!dir || positionals.length > 2) throw usageError('new', 'one folder expected');
    const target = resolve(dir);
    const name = values.name ?? basename(target);
    if (!PLUGIN_NAME.test(name)) {
      throw usageError(
        'new',
        `'${name}' is not a stub name (lower case letters, digits and dashes, from a letter): give --name`,
      );
    }
    const there = await readdir(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    if (there.length > 0) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `${target} is not empty: protofly new writes into a new or empty folder`,
        { dir: target },
      );
    }
    const { version } = JSON.parse(
      await readFile(join(packageRoot(import.meta.url), 'package.json'), 'utf8'),
    );
    const written: string[] = [];
    for (const file of await templateFiles(TEMPLATE)) {
      const path = relative(TEMPLATE, file);
      const out = join(target, RENAMED[path] ?? path);
      await mkdir(join(out, '..'), { recursive: true });
      await writeFile(out, personalise(path, await readFile(file, 'utf8'), name, version as string));
      written.push(relative(process.cwd(), out));
    }
    console.log(`wrote stub ${name}:\n${written.map((f) => `  ${f}`).join('\n')}`);
    console.log(
      `\nnext:\n  cd ${relative(process.cwd(), target) || '.'}\n  npm install\n  npm test\n  npm run dev`,
    );
    return 0;
  },
};

/** The template's files, but what a run left there (installed packages, a dev domain's data). */
async function templateFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await templateFiles(path)));
    else files.push(path);
  }
  return files.sort();
}

/** A template file for stub `name` on protofly `version`: its name in the manifests, this package as its dependency. */
function personalise(file: string, text: string, name: string, version: string): string {
  if (file !== 'package.json' && file !== 'protofly.json') return text;
  return text
    .replace(/^ {2}"name": "[^"]*"/m, `  "name": "${name}"`)
    .replace(/"protofly": "[^"]*"/, `"protofly": "^${version}"`);
}
