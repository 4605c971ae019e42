import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, packProtofly } from './support/packed.js';

/**
 * The package as an app gets it: packed with `npm pack`, installed into a fresh project with no
 * TypeScript set-up, and used from plain .mjs files; the domain is the installed package's
 * `protofly serve`, its users made with the installed `protofly users add`, and the app is the
 * README's first example, read from README.md between its markers.
 */

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);
const START = '<!-- app-example:start -->';
const END = '<!-- app-example:end -->';

/** The README's app example: the JavaScript block between the markers. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(START), readme.indexOf(END));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`README.md has no \`\`\`js block between ${START} and ${END}`);
  return code;
}

let dir: string;
let app: string;
let dataDir: string;
let server: ChildProcess | undefined;
let catalogue: string;

/** `protofly <args>` of the installed package, in the app's folder. */
function protofly(args: string[], stdin?: string) {
  const child = execFile(process.execPath, [join(app, 'node_modules/protofly/bin/protofly.js'), ...args], {
    cwd: app,
  });
  child.stdin?.end(stdin);
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`protofly ${args.join(' ')}: ${out}`)),
    );
  });
}

/** Starts the installed `protofly serve`; resolves with the catalogue's base URL once it listens. */
function serve(config: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(app, 'node_modules/protofly/bin/protofly.js'), 'serve', '--config', config],
      {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    server = child;
    let out = '';
    const read = (d: Buffer) => {
      out += d;
      const url = /^\s+catalogue\s+(\S+)\/\.well-known\//m.exec(out)?.[1];
      if (url && out.includes('Ctrl-C stops it.')) resolve(url);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => reject(new Error(`protofly serve exited ${code}: ${out}`)));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-package-'));
  app = join(dir, 'app');
  dataDir = join(dir, 'localhost');
  await mkdir(app);
  const tarball = await packProtofly(dir);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await installPacked(app, [tarball]);

  const config = join(dir, 'localhost.yaml');
  await writeFile(
    config,
    `domain: localhost\ndataDir: ${dataDir}\nports: { catalogue: 0, messaging: 0, admin: 0 }\n`,
  );
  catalogue = await serve(config);
}, 600_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.removeAllListeners('exit');
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('the installed package', () => {
  it('exports its entries to plain JavaScript, with no TypeScript set-up', async () => {
    const probe = join(app, 'probe.mjs');
    await writeFile(
      probe,
      `import { createNodeRuntime, Runtime, Conversation, ProtoflyError, ERROR_DOCS, parseAddress } from 'protofly';
import { assertTransition, response, answer, Seen, Backoff, SharedSession } from 'protofly/stub';
import { DirectContext } from 'protofly/stub/testing';
import { startDomain, createCatalogueServer, startMessagingNode, tokenEndpoint } from 'protofly/server';
console.log([createNodeRuntime, Runtime, Conversation, ProtoflyError, parseAddress, assertTransition, response, answer,
  Seen, Backoff, SharedSession, DirectContext, startDomain, createCatalogueServer, startMessagingNode, tokenEndpoint]
  .map((f) => typeof f).join(' '));
console.log(ERROR_DOCS[new ProtoflyError('PF_ERR_AUTH', 'x').code].length > 0, parseAddress('user://localhost/alice').domain);`,
    );
    const { stdout } = await run(process.execPath, [probe], { cwd: app });
    expect(stdout).toBe(`${Array(16).fill('function').join(' ')}\ntrue localhost\n`);
  });

  it("runs the README's app example: two users of `protofly serve` log in and chat both ways", async () => {
    for (const name of ['alice', 'bob']) {
      await protofly(['users', 'add', name, '--data', dataDir], `${name}-password\n`);
    }
    await writeFile(join(app, 'example.mjs'), await readmeExample());
    const { stdout } = await run(process.execPath, ['example.mjs'], {
      cwd: app,
      env: { ...process.env, PROTOFLY_CATALOGUE: catalogue, PROTOFLY_HOME: join(app, '.protofly') },
    });
    expect(stdout).toBe('bob got: hi Bob\nalice got: hi Alice\n');
  }, 120_000);
});
