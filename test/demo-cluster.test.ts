import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../cli/demo-report.js';
import { protofly } from './support/cli.js';

const BIN = join(import.meta.dirname, '../bin/protofly.js');

/** The namespaces of this machine now. */
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describe('protofly demo --cluster', () => {
  it('runs c.example on three network hosts behind the balancer, kills one mid-chat, loses nothing, and leaves no namespace', async () => {
    const run = await protofly(['demo', '--cluster', '--json'], {}, 300_000);
    const report = JSON.parse(run.stdout) as DemoReport;
    expect(report.error).toBeUndefined();
    expect([run.code, report.ok, report.lost]).toEqual([0, true, 0]);
    expect(report.hosts?.map((h) => [h.name, h.users.length, h.killed])).toEqual([
      ['host1', 2, true],
      ['host2', 2, false],
      ['host3', 2, false],
    ]);
    // Three chats of 150, most acknowledged though a host died under them; each arrived once.
    expect(report.messages.sent).toBe(450);
    expect(report.messages.delivered).toBeGreaterThan(400);
    expect(report.ladder.rows).toContainEqual({ note: 'host1 killed mid-chat (SIGKILL, every process)' });
    const left = namespaces();
    for (const h of report.hosts!) expect(left).not.toContain(h.namespace);
  }, 300_000);

  it('is a demo of its own: with --sip, --xmpp, --swap or --web it is a usage error', async () => {
    for (const other of ['--sip', '--xmpp', '--swap', '--web']) {
      const run = await protofly(['demo', '--cluster', other]);
      expect([run.code, run.stderr.trim()]).toEqual([
        2,
        'PF_ERR_USAGE: --cluster is a demo of its own: without --sip, --xmpp, --swap or --web (see protofly demo --help)',
      ]);
    }
  });

  it('fails with PF_ERR_NETNS, saying why, where namespaces cannot be made (not root)', async () => {
    // As nobody: `ip netns add` is refused (no CAP_SYS_ADMIN).
    const run = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          BIN,
          'demo',
          '--cluster',
          '--json',
        ],
        { env: { ...process.env, HOME: '/tmp', PROTOFLY_HOME: '/tmp/pf-nobody-home' }, timeout: 120_000 },
        (err, stdout) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout }),
      );
    });
    const report = JSON.parse(run.stdout) as DemoReport;
    expect([run.code, report.ok, report.error?.code]).toEqual([1, false, 'PF_ERR_NETNS']);
    expect(report.error?.message).toMatch(/root/);
  }, 120_000);
});
