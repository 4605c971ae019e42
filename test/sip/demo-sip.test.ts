import { describe, expect, it } from 'vitest';
import { runSipDemo } from '../../cli/demo-sip.js';

describe('protofly demo --sip', () => {
  it('shows Alice on json-ws and SIP at once: stubs verified, every message and call step delivered', async () => {
    const report = await runSipDemo();
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.messages.sent).toBe(report.messages.delivered);
    expect(report.messages.sent).toBe(6);
    expect(report.stubs.map((s) => `${s.domain}/${s.name}`)).toEqual([
      'b.example/json-ws',
      'c.example/sip-ws',
    ]);
    expect(report.ladder.rows).toContainEqual({ from: 2, to: 4, label: 'MESSAGE [sip-ws@0.1.0]' });
  });
});

describe('protofly demo --sip without Kamailio', () => {
  it('says how to install it, and fails with one coded line last on stderr', async () => {
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const run = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '../../bin/protofly.js'), 'demo', '--sip'],
      {
        env: { ...process.env, PROTOFLY_KAMAILIO: '/nonexistent/kamailio' },
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('apt-get install -y kamailio kamailio-websocket-modules');
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^PF_ERR_CONFIG: .*apt-get install/);
  });
});
