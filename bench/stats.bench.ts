import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCdr } from '../plugins/backends/cdr-sqlite/sqlite-cdr.js';
import type { CdrUpdate } from '../server/services/service.js';
import { alternate, type BenchOptions, type Result, result } from './harness.js';

const HOUR = 3_600_000;
const OUTCOMES = ['completed', 'rejected', 'cancelled', 'unanswered', 'answered'];

/**
 * The statistics' aggregation in cdr-sqlite (grouping and ranking inside SQLite) against only
 * loading the same records into JavaScript with `list()`, which any aggregation outside the
 * backend would need before adding anything up: ms per query over a day of records, in one run.
 */
export default async function statsBench({ quick }: BenchOptions): Promise<Result[]> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-stats-bench-'));
  const cdr = new SqliteCdr(join(dir, 'cdr.sqlite'));
  try {
    const n = quick ? 10_000 : 100_000;
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const updates: CdrUpdate[] = Array.from({ length: n }, (_, i) => {
      const first = t0 + Math.floor((i / n) * 24 * HOUR);
      const isCall = i % 3 === 0;
      return {
        key: `k${i}`,
        kind: isCall ? 'call' : 'chat',
        parties: [`user://d${i % 50}.example/u${i % 977}`, `user://b.example/u${i % 101}`],
        ...(isCall ? { callId: `c${i}` } : {}),
        protocol: 'json-ws',
        stub: `json-ws@0.1.${i % 3}`,
        first,
        last: first + (i % 600) * 1000,
        end: first + (i % 600) * 1000,
        messages: 1 + (i % 7),
        outcome: isCall ? OUTCOMES[i % OUTCOMES.length]! : 'completed',
      };
    });
    for (let i = 0; i < n; i += 10_000) await cdr.record(updates.slice(i, i + 10_000));
    const range = { since: t0, until: t0 + 24 * HOUR };
    const ms = (fn: () => Promise<unknown>) => async () => {
      const start = performance.now();
      await fn();
      return performance.now() - start;
    };
    const [ours, base] = await alternate(
      quick ? 3 : 10,
      ms(() => cdr.aggregate({ ...range, bucketMs: HOUR, domain: 'b.example' })),
      ms(() => cdr.list(range)),
    );
    return [result(`stats: aggregate ${n} CDRs in SQLite vs list() them`, 'ms/query', ours, base)];
  } finally {
    await cdr.close();
    await rm(dir, { recursive: true, force: true });
  }
}
