import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteCdr } from '../plugins/backends/cdr-sqlite/sqlite-cdr.js';
import type { Conversation } from '../runtime/conversation.js';
import { integrityHex } from '../runtime/integrity.js';
import { developmentPolicy } from '../runtime/policy.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import type { CdrRecord } from '../server/services/service.js';
import { BACKENDS_DIR, verifiedBackend } from './support/backends.js';
import { type Domains, startDomains } from './support/domains.js';

const BIN = join(import.meta.dirname, '../bin/protofly.js');
const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

let dir: string;
let host: NodeWorkerHost;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-cdr-'));
  host = new NodeWorkerHost({ policy: developmentPolicy });
  await host.ready();
});
afterAll(async () => {
  await host?.terminate();
  await rm(dir, { recursive: true, force: true });
});

/** The next message a conversation receives. */
const next = (c: Conversation) =>
  new Promise<unknown>((resolve) => {
    const off = c.on('message', (m) => {
      off();
      resolve(m.body);
    });
  });

// Two domain start-ups and three `protofly` processes: seconds when idle, many times that on a loaded machine.
describe('CDRs in SQLite', { timeout: 120_000 }, () => {
  it('records the chat and the call of the end-to-end scenario at the carrier domain, kept across a restart', async () => {
    let domains: Domains = await startDomains(['a.example', 'b.example'], dir);
    const bob = domains.runtime(BOB, { host });
    await bob.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
    const alice = domains.runtime(ALICE, { host });
    const withBob = await alice.runtime.conversation(BOB);
    await withBob.send('Hi Bob');
    const withAlice = await incoming;
    const reply = next(withBob);
    await withAlice.send('Hi Alice');
    await reply;
    const offer = next(withAlice);
    const callId = await withBob.call('v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\n', ['audio']);
    await offer;
    await withAlice.answer(callId, 'v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\n');
    await withBob.bye(callId);

    const cdr = domains.byName.get('b.example')!.services.cdr;
    const chat = { kind: 'chat', parties: [ALICE, BOB], protocol: 'json-ws', stub: 'json-ws@0.1.0' };
    const expected = [
      { ...chat, kind: 'call', callId, outcome: 'completed', messages: 3, end: expect.any(Number) },
      { ...chat, outcome: 'chatting', messages: 2 },
    ];
    // A flush is due within flushMs; the budget is for a machine many times slower than that.
    await expect.poll(() => cdr.list(), { timeout: 15_000 }).toMatchObject(expected);
    const before = await cdr.list();
    // The carrier's node records; a.example's carried nothing.
    expect(await domains.byName.get('a.example')!.services.cdr.list()).toEqual([]);
    await domains.close();

    domains = await startDomains(['b.example'], dir);
    expect(await domains.byName.get('b.example')!.services.cdr.list()).toEqual(before);
    await domains.close();

    // protofly cdr reads the same records, as CSV and as JSON.
    const data = join(dir, 'b.example');
    const csv = (await protofly(['cdr', '--data', data, '--format', 'csv'])).trim().split('\n');
    expect(csv[0]).toBe('id,kind,party_a,party_b,call_id,protocol,stub,start,end,outcome,messages');
    expect(csv.slice(1).map((line) => line.split(',').slice(1, 5))).toEqual([
      ['call', ALICE, BOB, callId],
      ['chat', ALICE, BOB, ''],
    ]);
    const json = JSON.parse(
      await protofly(['cdr', '--data', data, '--format', 'json', '--party', BOB]),
    ) as unknown[];
    expect(json).toEqual(
      before.map((r: CdrRecord) => ({
        ...r,
        callId: r.callId ?? null,
        start: new Date(r.start).toISOString(),
        end: r.end === undefined ? null : new Date(r.end).toISOString(),
      })),
    );
    expect(
      JSON.parse(
        await protofly(['cdr', '--data', data, '--format', 'json', '--party', 'user://b.example/nobody']),
      ),
    ).toEqual([]);
  });

  it('stays readable, every transaction whole, when a process is killed while writing', async () => {
    const { descriptor } = await verifiedBackend('cdr-sqlite');
    const module = join(BACKENDS_DIR, `${integrityHex(descriptor.sourcePackage.integrity)}.mjs`);
    const file = join(dir, 'crash.sqlite');
    // The published backend itself, in a process of its own, writing batches of 200 as fast as it can.
    const writer = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { default: backend } = await import(${JSON.stringify(pathToFileURL(module).href)});
         const cdr = await backend.create({ config: { database: ${JSON.stringify(file)}, busyTimeoutMs: 5000 }, dataDir: '/' });
         for (let i = 0; ; i++) {
           const batch = Array.from({ length: 200 }, (_, j) => ({ key: i + '/' + j, kind: 'chat', parties: ['user://a.example/a', 'user://b.example/b'],
             protocol: 'json-ws', stub: 'json-ws@0.1.0', first: i, last: i, messages: 1, outcome: 'chatting' }));
           await cdr.record(batch);
           if (i === 10) console.log('writing');
         }`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on('data', (d) => String(d).includes('writing') && resolve());
      writer.once('exit', (code) => reject(new Error(`writer exited ${code}`)));
    });
    // Killed while it goes on writing: past batch 10 it never waits, so the kill lands mid-batch or between two.
    writer.kill('SIGKILL');
    await new Promise((r) => writer.once('exit', r));

    const db = new Database(file);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = (db.prepare('SELECT count(*) AS n FROM cdr').get() as { n: number }).n;
    db.close();
    expect(rows).toBeGreaterThanOrEqual(11 * 200);
    expect(rows % 200).toBe(0);
    const reopened = new SqliteCdr(file);
    expect(await reopened.list({ limit: 1 })).toHaveLength(1);
    await reopened.close();
  });
});

/** Runs the protofly command and returns its standard output; rejects on a non-zero exit. */
async function protofly(args: string[]): Promise<string> {
  return (await promisify(execFile)(process.execPath, [BIN, ...args], { encoding: 'utf8' })).stdout;
}
