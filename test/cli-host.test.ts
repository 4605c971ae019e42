import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../cli/demo-report.js';
import { protofly } from './support/cli.js';

// The worker host on every Node: the isolate host is asked for by name, never the default
// (sandbox/isolate/choose.ts says why).
describe('protofly demo, as a user starts it', { timeout: 120_000 }, () => {
  it('runs the stubs on the worker host, and its --json report says so', async () => {
    const run = await protofly(['demo', '--json']);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as DemoReport;
    expect(report.ok).toBe(true);
    expect(report.host).toEqual({ kind: 'worker' });
    expect(run.code).toBe(0);
  });

  it('runs them in a child process per sandbox when asked, all of it in a process that then exits', async () => {
    const run = await protofly(['demo', '--sandbox', 'process', '--json']);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as DemoReport;
    expect(report.ok).toBe(true);
    expect(report.host).toEqual({ kind: 'process' });
    expect(report.messages.delivered).toBe(report.messages.sent);
    expect(run.code).toBe(0);
    const wrong = await protofly(['demo', '--sandbox', 'vm']);
    expect(wrong.stderr).toMatch(/PF_ERR_USAGE: --sandbox is one of worker, process, isolate, not 'vm'/);
    expect(wrong.code).toBe(2);
  });

  it('says in its text output which host ran the stubs', async () => {
    const run = await protofly(['demo']);
    expect(run.stdout).toContain('stubs ran in: the worker host\n');
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('ok');
    expect(run.code).toBe(0);
  });
});
