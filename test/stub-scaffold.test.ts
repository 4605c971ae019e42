import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import type { VersionEvent } from '../runtime/runtime.js';
import { installPacked, packProtofly } from './support/packed.js';

/**
 * A stub author's first hour, outside the repository and against the packed package:
 * `protofly new stub linechat`, `npm install`, `npm test`; then `npm run dev`'s command as a
 * child process, two runtimes (Alice's and Bob's, development policy, following the domain live)
 * chatting through it, and an edit of the stub saved while Alice keeps sending: the new version
 * is published, both runtimes swap to it live, what it changed is seen, and every message sent
 * across the swap arrives exactly once. The edit-to-live time is measured and printed.
 */

const exec = promisify(execFile);
/** The edit: Bob's stub marks what it delivers. */
const BEFORE = 'offer(member.ctx, request(chat))';
// biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript written into the stub's source.
const AFTER = 'offer(member.ctx, request({ ...chat, text: `[dev] ${chat.text}` }))';
/** A bound for a hang, not a measurement: the edit-to-live time is printed. */
const LIVE_WITHIN_MS = 30_000;

let dir: string;
let project: string;
let dev: ChildProcess | undefined;
let devOut = '';
const runtimes: NodeRuntime[] = [];
const took: Record<string, number> = {};
const notes: string[] = [];

/** Runs `cmd` in the project; resolves with its output, rejects with it. */
async function inProject(cmd: string, args: string[]): Promise<string> {
  const started = performance.now();
  try {
    const { stdout, stderr } = await exec(cmd, args, {
      cwd: project,
      maxBuffer: 16 * 1024 * 1024,
      // Plain text to match, whatever this process's vitest asked of its children.
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  } finally {
    took[`${cmd} ${args.join(' ')}`] = performance.now() - started;
  }
}

/** Resolves with the first match of `pattern` in the dev process's output, as it comes. */
function devSays(pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(devOut);
      if (!m) return;
      dev?.stdout?.off('data', check);
      dev?.off('exit', exited);
      resolve(m);
    };
    const exited = (code: number | null) => reject(new Error(`protofly dev exited (${code}):\n${devOut}`));
    dev?.stdout?.on('data', check);
    dev?.once('exit', exited);
    check();
  });
}

beforeAll(async () => {
  const started = performance.now();
  dir = await mkdtemp(join(tmpdir(), 'pf-scaffold-'));
  const tarball = await packProtofly(dir);
  // `npx protofly` with the package installed beside the project, as a person would have it.
  const tools = join(dir, 'tools');
  await mkdir(tools);
  await writeFile(join(tools, 'package.json'), JSON.stringify({ name: 'tools', private: true }));
  await installPacked(tools, [tarball]);
  const { stdout } = await exec(
    process.execPath,
    [join(tools, 'node_modules/protofly/bin/protofly.js'), 'new', 'stub', 'linechat'],
    { cwd: dir },
  );
  expect(stdout).toMatch(/^wrote stub linechat:/);
  project = join(dir, 'linechat');
  await installPacked(project, [tarball]);
  took['set-up: pack, install, new, install'] = performance.now() - started;
}, 900_000);

afterAll(async () => {
  await Promise.allSettled(runtimes.map((r) => r.close()));
  if (dev && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev!.once('exit', resolve));
    dev.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
  console.log(
    Object.entries(took)
      .map(([what, ms]) => `${(ms / 1000).toFixed(2).padStart(8)} s  ${what}`)
      .concat(notes)
      .join('\n'),
  );
}, 60_000);

describe('a stub project made by protofly new, outside the repository', () => {
  it('passes its own tests: npm test', async () => {
    const out = await inProject('npm', ['test']);
    expect(out).toMatch(/Tests\s+\d+ passed/);
    // The guide its README points to came with the package.
    expect(await readFile(join(project, 'README.md'), 'utf8')).toContain(
      'node_modules/protofly/docs/writing-a-stub.md',
    );
    await readFile(join(project, 'node_modules/protofly/docs/writing-a-stub.md'), 'utf8');
  }, 300_000);

  it('runs under protofly dev: a runtime chats through it, and a saved edit is live in both runtimes with no message lost', async () => {
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    // `npm run dev`, the package's own command run directly, so that the test owns its process.
    const [bin, ...args] = pkg.scripts.dev!.split(' ');
    expect(bin).toBe('protofly');
    dev = spawn(process.execPath, [join(project, 'node_modules/protofly/bin/protofly.js'), ...args], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.on('data', (d) => {
      devOut += d;
    });
    dev.stderr!.on('data', (d) => {
      devOut += d;
    });
    const [, domain, catalogue] = await devSays(
      /^protofly dev: (\S+),[^\n]*\n\s+catalogue\s+(\S+)\/\.well-known/m,
    );
    const first = (await devSays(/^\s+stub\s+linechat@(\S+) /m))[1]!;
    expect(first).toMatch(/^0\.1\.0-dev\.\d+$/);
    await devSays(/protofly chat --as user:\/\/\S+\/alice/);

    const runtimeOf = (name: string) => {
      const address = `user://${domain}/${name}`;
      const node = createNodeRuntime({
        policy: 'development',
        // linechat's example server believes who says HELLO; a real one checks the token.
        identity: { address, token: async () => 'token' },
        catalogues: { [domain!]: catalogue! },
        updates: { [domain!]: 'live' },
        dataDir: false,
      });
      runtimes.push(node);
      const versions: VersionEvent[] = [];
      node.runtime.on('version', (e) => versions.push(e));
      return { address, runtime: node.runtime, versions };
    };
    // A runtime that is no development runtime refuses what the development key signed, though
    // it allows the loopback endpoints.
    const careful = createNodeRuntime({
      policy: { endpoints: { addresses: ['loopback'] } },
      identity: { address: `user://${domain}/carol`, token: async () => 'token' },
      catalogues: { [domain!]: catalogue! },
      dataDir: false,
    });
    runtimes.push(careful);
    const refused = await careful.runtime.conversation(`user://${domain}/bob`).catch((e) => e);
    expect(refused, String(refused)).toMatchObject({
      code: 'PF_ERR_POLICY',
      detail: { policy: 'developmentKeys' },
    });
    const bob = runtimeOf('bob');
    const alice = runtimeOf('alice');
    await bob.runtime.register();
    const texts: string[] = [];
    let arrived = () => {};
    const withAlice = new Promise<Conversation>((resolve) =>
      bob.runtime.on('conversation', (c) => {
        c.on('message', (m: Incoming) => {
          texts.push(String((m.body as { text?: unknown }).text));
          arrived();
        });
        resolve(c);
      }),
    );
    const until = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        arrived = () => check() && resolve();
        arrived();
      });
    const withBob = await alice.runtime.conversation(bob.address);
    expect(withBob.carrier.version).toBe(first);
    expect((await withBob.send('hello Bob')).body.code).toBe(200);
    await withAlice;
    await until(() => texts.length === 1);
    expect(texts).toEqual(['hello Bob']);

    // The edit, saved while Alice keeps sending, five at a time, until both runtimes run it.
    const source = join(project, 'src/index.ts');
    const text = await readFile(source, 'utf8');
    expect(text.split(BEFORE).length, `src/index.ts holds ${BEFORE} once`).toBe(2);
    const saved = performance.now();
    await writeFile(source, text.replace(BEFORE, AFTER));
    const published = devSays(/published linechat@(0\.1\.0-dev\.\d+) (\d+) ms after the save/).then((m) => {
      took['edit → published (protofly dev)'] = performance.now() - saved;
      return m[1]!;
    });
    // Alice's conversation; Bob's conversation and his inbox.
    const swapped = () =>
      alice.versions.some((e) => e.change === 'swap' && e.peer === bob.address) &&
      bob.versions.some((e) => e.change === 'swap' && e.peer === alice.address) &&
      bob.versions.some((e) => e.change === 'swap' && e.peer === undefined);
    let sent = 0;
    while (!swapped()) {
      if (performance.now() - saved > LIVE_WITHIN_MS)
        throw new Error(`not live in ${LIVE_WITHIN_MS} ms:\n${devOut}`);
      const batch = Array.from({ length: 5 }, () => withBob.send(`m${++sent}`));
      for (const answer of await Promise.all(batch)) expect(answer.body.code).toBe(200);
    }
    took['edit → live in both runtimes'] = performance.now() - saved;
    const next = await published;
    for (const e of [...alice.versions, ...bob.versions].filter((v) => v.change !== 'start')) {
      expect(e, 'no swap was rolled back').toMatchObject({ change: 'swap', carrier: { version: next } });
    }
    // Once both run the new version, Bob's stub marks what it delivers.
    for (let i = 0; i < 3; i++) expect((await withBob.send(`after ${i}`)).body.code).toBe(200);
    await until(() => texts.length === 1 + sent + 3);
    expect(texts.slice(-3)).toEqual(['[dev] after 0', '[dev] after 1', '[dev] after 2']);
    const across = texts.slice(1, 1 + sent).map((t) => t.replace(/^\[dev\] /, ''));
    expect(new Set(across).size, 'each message once').toBe(sent);
    expect([...across].sort()).toEqual(Array.from({ length: sent }, (_, i) => `m${i + 1}`).sort());
    expect(withBob.carrier.version).toBe(next);
    notes.push(`${sent} messages sent across the swap, each delivered once`);
    // The terminal showed the frames into and out of the stub.
    expect(devOut).toMatch(/\|-- #\d+ MSG \S+ alice bob m1 /);
    expect(devOut).toMatch(/\|<- #\d+ ACK \S+ bob alice 200/);
  }, 300_000);
});
