import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stats } from '../core/generated/types.js';
import { validateStats } from '../core/generated/validators.js';
import { lastLine, protofly } from './support/cli.js';
import {
  adminGet,
  DOMAIN,
  FOREIGN,
  ROOT,
  type StatsDomains,
  startStatsDomains,
} from './support/stats-domain.js';

let world: StatsDomains;
beforeAll(async () => {
  world = await startStatsDomains();
}, 120_000);
afterAll(() => world?.close());

/** The summary for the 24 hours to now, by hour, once the scenario's CDRs are written. */
async function summary(query = ''): Promise<Stats> {
  const res = await adminGet(world.domain, `/stats/v1/summary${query}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as unknown;
  expect(validateStats(body), JSON.stringify(validateStats.errors)).toBe(true);
  return body as Stats;
}

describe('statistics of a real domain over its admin port', { timeout: 120_000 }, () => {
  it('counts the chats and calls made through the node, by hour, protocol, stub and foreign domain', async () => {
    const stats = await summary();
    const records = await world.domain.services.cdr.list();
    const answered = records.find((r) => r.callId === world.calls.answered)!;
    const duration = answered.end! - answered.start;
    expect(duration).toBeGreaterThanOrEqual(0);
    const durations = { count: 1, totalMs: duration, meanMs: duration, p50Ms: duration, p95Ms: duration };
    expect(stats.total).toEqual({
      // Alice and Bob 2 messages, Carol 1.
      chats: { count: 2, messages: 3, outcomes: { chatting: 2 } },
      // The answered call: offer, answer, bye; the rejected one: offer, reject.
      calls: {
        count: 2,
        messages: 5,
        outcomes: { completed: 1, rejected: 1 },
        answered: 1,
        refused: 1,
        failed: 0,
        durations,
      },
    });
    expect(stats.domain).toBe(DOMAIN);
    expect(Date.parse(stats.to) - Date.parse(stats.from)).toBe(24 * 3_600_000);
    // 24 hours by the hour: 24 buckets, or 25 when `from` is not on the hour.
    expect(stats.buckets.length).toBeGreaterThanOrEqual(24);
    expect(stats.buckets.length).toBeLessThanOrEqual(25);
    const busy = stats.buckets.filter((b) => b.figures.chats.count + b.figures.calls.count > 0);
    // All within a minute or so: one bucket, or two across the turn of an hour.
    expect(busy.reduce((n, b) => n + b.figures.calls.count, 0)).toBe(2);
    expect(busy.reduce((n, b) => n + b.figures.chats.count, 0)).toBe(2);
    expect(busy.every((b) => new Date(b.start).getUTCMinutes() === 0)).toBe(true);

    expect(stats.protocols).toEqual({ 'json-ws': stats.total });
    expect(Object.keys(stats.stubs)).toEqual([records[0]!.stub]);
    // Carol is of the domain: only Alice's chat and call have a foreign domain.
    expect(Object.keys(stats.domains)).toEqual([FOREIGN]);
    expect(stats.domains[FOREIGN]).toMatchObject({
      chats: { count: 1, messages: 2 },
      calls: { count: 1, answered: 1, refused: 0, durations },
    });
    // No rules: every message is the default rule's, allowed.
    expect(stats.policy.flood + stats.policy.refused).toBe(0);
    expect(stats.policy.rules.default?.allowed).toBe(stats.policy.allowed);
    expect(stats.policy.allowed).toBeGreaterThanOrEqual(8);

    // By day, over a range that ends before the conversations: none in it.
    const now = Date.now();
    const byDay = await summary(
      `?bucket=day&from=${new Date(now - 3 * 86_400_000).toISOString()}&to=${new Date(now - 3_600_000).toISOString()}`,
    );
    expect(byDay.buckets.length).toBeGreaterThanOrEqual(3);
    expect(byDay.total.chats.count + byDay.total.calls.count).toBe(0);
  });

  it('refuses a query it cannot use with a coded 400, and anyone but an administrator', async () => {
    const refusal = async (query: string) => {
      const res = await adminGet(world.domain, `/stats/v1/summary${query}`);
      return { status: res.status, body: await res.json() };
    };
    const schema = { status: 400, body: { error: { code: 'PF_ERR_SCHEMA' } } };
    expect(await refusal('?bucket=week')).toMatchObject(schema);
    expect(await refusal('?from=yesterday')).toMatchObject(schema);
    expect(await refusal('?from=2026-13-45T00:00:00Z')).toMatchObject(schema);
    expect(await refusal('?lang=fr')).toMatchObject(schema);
    expect(await refusal('?from=2026-12-02&to=2026-12-01')).toMatchObject({
      status: 400,
      body: { error: { code: 'PF_ERR_SCHEMA', message: 'statistics query: from must be before to' } },
    });
    expect(await refusal('?from=2026-01-01&to=2026-12-01&bucket=hour')).toMatchObject({
      status: 400,
      body: { error: { code: 'PF_ERR_SCHEMA', message: expect.stringContaining('at most 1000') } },
    });
    const none = await adminGet(world.domain, '/stats/v1/summary', '');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="protofly statistics"');
    expect((await adminGet(world.domain, '/stats/v1/summary', 'root:wrong')).status).toBe(401);
    const post = await fetch(`${world.domain.adminUrl}/stats/v1/summary`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(ROOT).toString('base64')}` },
    });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect((await adminGet(world.domain, '/stats/v1/nothing')).status).toBe(404);
  });

  it('prints the same figures with protofly stats, as a table and as JSON; errors coded, no stack trace', async () => {
    const admin = world.domain.adminUrl;
    const args = ['stats', '--admin', admin, '--user', 'root'];
    const json = await protofly([...args, '--json'], {}, 60_000, 'root password\n');
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const printed = JSON.parse(json.stdout) as Stats;
    // The policy counters are live: the same as the REST API's at the same moment.
    expect(printed).toEqual({
      ...(await summary(`?from=${printed.from}&to=${printed.to}`)),
      policy: printed.policy,
    });
    expect(printed.total.calls.count).toBe(2);

    const table = await protofly(args, {}, 60_000, 'root password\n');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`Statistics of ${DOMAIN}`);
    const total = table.stdout.split('\n').find((l) => l.startsWith('total'));
    // chats 2, messages 8, calls 2, answered 1, refused 1, failed 0.
    expect(total?.split(/\s{2,}/).slice(1, 7)).toEqual(['2', '8', '2', '1', '1', '0']);
    expect(table.stdout).toMatch(new RegExp(`^${FOREIGN.replace('.', '\\.')}\\s+1\\s+`, 'm'));

    const wrong = await protofly(args, {}, 60_000, 'not the password\n');
    expect(wrong.code).not.toBe(0);
    expect(lastLine(wrong.stderr)).toMatch(/^PF_ERR_AUTH: /);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    const bad = await protofly([...args, '--bucket', 'week'], {}, 60_000, 'root password\n');
    expect(lastLine(bad.stderr)).toMatch(/^PF_ERR_SCHEMA: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const usage = await protofly(['stats', '--admin', admin]);
    expect(lastLine(usage.stderr)).toMatch(/^PF_ERR_USAGE: --user is required/);
  });
});
