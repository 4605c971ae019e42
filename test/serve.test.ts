import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../cli/demo.js';

const BIN = join(import.meta.dirname, '../bin/protofly.js');

/** Runs `protofly serve` and resolves with what it printed once it says where everything listens. */
function serve(args: string[]): Promise<{ child: ChildProcess; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Ctrl-C stops it.')) resolve({ child, out });
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}${err}`)));
  });
}

const field = (out: string, name: string) => new RegExp(`^\\s+${name}\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-serve-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('protofly serve', () => {
  it('runs a domain from a YAML config: signed built-in stub, keys, node health, and stops on SIGTERM', async () => {
    const config = join(dir, 'domain.yaml');
    await writeFile(
      config,
      `domain: b.example\ndataDir: ${join(dir, 'data')}\nports: { catalogue: 0, messaging: 0, admin: 0 }\n`,
    );
    const { child, out } = await serve(['--config', config]);
    try {
      const descriptor = await (await fetch(field(out, 'catalogue'))).json();
      expect(descriptor).toMatchObject({ kind: 'stub', name: 'json-ws', domain: 'b.example' });
      // Published for this deployment: the node's URL is the stub's default and only endpoint.
      const nodeUrl = field(out, 'messaging');
      expect(descriptor.configuration.defaults.url).toBe(nodeUrl);
      expect(descriptor.constraints.endpoints).toEqual([nodeUrl.replace(/\/?$/, '/')]);
      const keys = await (await fetch(field(out, 'keys'))).json();
      expect(keys.keys[0].kid).toBe(descriptor.signature.keyId);
      expect((await fetch(field(out, 'health'))).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
  });

  it('keeps its key across restarts', async () => {
    const config = join(dir, 'restart.yaml');
    await writeFile(
      config,
      `domain: c.example\ndataDir: ${join(dir, 'c')}\nports: { catalogue: 0, messaging: 0, admin: 0 }\n`,
    );
    const kids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { child, out } = await serve(['--config', config]);
      kids.push(/kid (\S+)\)/.exec(out)?.[1] ?? '');
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    }
    expect(kids[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(kids[1]).toBe(kids[0]);
  });

  it('refuses a config that breaks the schema, naming the field, in one coded line last on stderr', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ domain: 'B_AD' }));
    const child = spawn(process.execPath, [BIN, 'serve', '--config', bad], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    expect(await new Promise((r) => child.on('exit', r))).toBe(1);
    expect(err).toMatch(/PF_ERR_SCHEMA: domain config: \/domain must match pattern/);
    expect(err.trimEnd().split('\n').at(-1)).toMatch(/^PF_ERR_SCHEMA: domain config: /);
  });
});

describe('protofly demo', () => {
  it('loads b.example’s stub on the fly, verified, and delivers every chat and call message', async () => {
    const report = await runDemo();
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.messages).toEqual({ sent: 5, delivered: 5 });
    expect(report.stubs.map((s) => [s.for, s.domain, s.name, s.verified])).toEqual([
      ['user://a.example/alice', 'b.example', 'json-ws', true],
      ['user://b.example/bob', 'b.example', 'json-ws', true],
    ]);
    expect(Object.keys(report.timings)).toContain('alice loads, verifies and starts b.example stub');
  });
});
