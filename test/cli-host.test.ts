import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../cli/demo-report.js';
import { protofly } from './support/cli.js';

// isolated-vm 7 has binaries for Node 24 and later only: the host to expect, never a skip.
const expected = Number(process.versions.node.split('.')[0]) >= 24 ? 'isolate' : 'worker';
// Started as a user starts it: `node bin/protofly.js`, without --no-node-snapshot anywhere.
const env = { NODE_OPTIONS: (process.env.NODE_OPTIONS ?? '').replace('--no-node-snapshot', '') };

describe('protofly, started without --no-node-snapshot', { timeout: 120_000 }, () => {
  it(`runs the demo's stubs on the ${expected} host, and its --json report says so`, async () => {
    const run = await protofly(['demo', '--json'], env);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as DemoReport;
    expect(report.ok).toBe(true);
    expect(report.host?.kind).toBe(expected);
    // On workers, the report says why not isolates.
    if (expected === 'worker') expect(report.host?.fallback).toMatch(/isolate host unavailable/);
    else expect(report.host?.fallback).toBeUndefined();
    expect(run.code).toBe(0);
  });

  it('says in its text output which host ran the stubs', async () => {
    const run = await protofly(['demo'], env);
    expect(run.stdout).toContain(`stubs ran in: the ${expected} host\n`);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('ok');
    expect(run.code).toBe(0);
  });
});
