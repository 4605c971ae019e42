import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSipDemo } from '../../cli/demo-sip.js';

describe('protofly demo --xmpp', () => {
  it('shows Alice on json-ws, SIP and XMPP at once: three stubs verified, every message and call step delivered', async () => {
    const report = await runSipDemo({ xmpp: true });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    // The SIP demo's six, and a chat each way with Erin.
    expect(report.messages).toEqual({ sent: 8, delivered: 8 });
    expect(report.stubs.map((s) => `${s.domain}/${s.name}`)).toEqual([
      'b.example/json-ws',
      'c.example/sip-ws',
      'x.example/xmpp-ws',
    ]);
    expect(report.ladder.columns.slice(6)).toEqual([
      'x.example catalogue, guests',
      'Prosody x.example',
      'erin (@xmpp/client)',
    ]);
    expect(report.ladder.rows).toContainEqual({ from: 2, to: 7, label: '<message> [xmpp-ws@0.1.0]' });
    expect(report.ladder.rows).toContainEqual({ from: 7, to: 2, label: '<message> [xmpp-ws@0.1.0]' });
  });
});

describe('protofly demo --xmpp without Prosody', () => {
  it('says how to install it, and fails with one coded line last on stderr', () => {
    const run = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '../../bin/protofly.js'), 'demo', '--xmpp', '--json'],
      { env: { ...process.env, PROTOFLY_PROSODY: '/nonexistent/prosody' }, encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('apt-get install -y prosody');
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^PF_ERR_CONFIG: .*apt-get install -y prosody/);
  });
});
