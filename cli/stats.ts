import { isErrorCode, ProtoflyError } from '../core/errors.js';
import type { Stats, StatsBreakdown, StatsFigures } from '../core/generated/types.js';
import { validateStats } from '../core/generated/validators.js';
import { assertValid } from '../core/validate.js';
import { type Command, firstLineOfStdin, parse, required, textTable, usageError } from './command.js';

const usage =
  'protofly stats --admin <admin URL> --user <name> [--from <ISO time>] [--to <ISO time>] [--bucket hour|day] [--json]  (password on stdin)';

/** How long the admin port has to answer. */
const TIMEOUT_MS = 30_000;

const COLUMNS = [
  '',
  'chats',
  'messages',
  'calls',
  'answered',
  'refused',
  'failed',
  'call time',
  'mean',
  'p50',
  'p95',
];

/**
 * `protofly stats`: a domain's statistics (calls, chats, durations, outcomes; by bucket,
 * protocol, stub and foreign domain; policy decisions) from a node's admin port
 * (GET /stats/v1/summary), as tables or as the JSON the port answers.
 */
export const stats: Command = {
  summary: "print a domain's call and chat statistics from a node's admin port",
  usage,
  help: [
    'Options:',
    "  --admin <url>    the node's admin port, e.g. http://127.0.0.1:8081",
    '  --user <name>    an administrator of the domain; the password is the first line of stdin',
    '  --from <ISO>     conversations that started at or after this time (default: 24 hours before --to)',
    '  --to <ISO>       ... and before this time (default: now)',
    '  --bucket <b>     hour (default) or day, in UTC',
    '  --json           the figures as the admin port answers them (schemas/stats.schema.json)',
    '',
    'Example:',
    '  echo "$ADMIN_PASSWORD" | protofly stats --admin http://127.0.0.1:8081 --user root --from 2026-12-01 --bucket day',
  ].join('\n'),
  async run(args) {
    const { values } = parse(
      args,
      {
        admin: { type: 'string' },
        user: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        bucket: { type: 'string' },
        json: { type: 'boolean' },
      },
      'stats',
    );
    const admin = required(values.admin, 'admin', 'stats');
    const user = required(values.user, 'user', 'stats');
    let url: URL;
    try {
      url = new URL('/stats/v1/summary', admin);
    } catch {
      throw usageError('stats', `--admin '${admin}' is not a URL`);
    }
    for (const name of ['from', 'to', 'bucket'] as const) {
      if (values[name] !== undefined) url.searchParams.set(name, values[name]);
    }
    const password = await firstLineOfStdin('stats', 'password');
    const body = await fetchStats(url, user, password);
    console.log(values.json ? JSON.stringify(body, null, 2) : report(body));
    return 0;
  },
};

/** The admin port's answer; its refusal as the ProtoflyError it names. */
async function fetchStats(url: URL, user: string, password: string): Promise<Stats> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ProtoflyError('PF_ERR_FETCH', `cannot reach ${url.origin}: ${(err as Error).message}`, {
      url: url.href,
    });
  }
  const body = (await res.json().catch(() => undefined)) as unknown;
  if (!res.ok) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (isErrorCode(error?.code)) throw new ProtoflyError(error.code, String(error.message ?? ''));
    throw new ProtoflyError('PF_ERR_FETCH', `${url.origin} answered HTTP ${res.status}`, { url: url.href });
  }
  assertValid(validateStats, body, `statistics from ${url.origin}`);
  return body;
}

/** The figures as text: the totals, the non-empty buckets, the breakdowns, the policy. */
function report(s: Stats): string {
  const sections = [
    `Statistics of ${s.domain}: conversations that started from ${s.from} to ${s.to}, by ${s.bucket} (UTC)`,
    textTable([COLUMNS, row('total', s.total)]),
    section(
      `By ${s.bucket} (buckets with conversations)`,
      s.buckets
        .filter((b) => b.figures.chats.count + b.figures.calls.count > 0)
        .map((b) => [b.start, b.figures]),
    ),
    section('By protocol', entries(s.protocols)),
    section('By stub', entries(s.stubs)),
    section('By foreign domain', entries(s.domains)),
    `Policy decisions since the node started: allowed ${s.policy.allowed}, refused ${s.policy.refused}, over a rate ${s.policy.flood}`,
  ];
  const rules = Object.entries(s.policy.rules);
  if (rules.length) {
    sections.push(
      textTable([
        ['rule', 'allowed', 'refused', 'flood'],
        ...rules.map(([rule, n]) => [rule, String(n!.allowed), String(n!.refused), String(n!.flood)]),
      ]),
    );
  }
  const refusals = Object.entries(s.refusals);
  sections.push(
    refusals.length
      ? `Refusals since the node started:\n${textTable(refusals.map(([code, n]) => [code, String(n)]))}`
      : 'Refusals since the node started: none',
  );
  return sections.join('\n\n');
}

function entries(b: StatsBreakdown): [string, StatsFigures][] {
  return Object.entries(b).map(([name, f]) => [name, f!]);
}

function section(title: string, rows: readonly (readonly [string, StatsFigures])[]): string {
  return rows.length
    ? `${title}:\n${textTable([COLUMNS, ...rows.map(([n, f]) => row(n, f))])}`
    : `${title}: none`;
}

function row(name: string, f: StatsFigures): string[] {
  const d = f.calls.durations;
  return [
    name,
    ...[
      f.chats.count,
      f.chats.messages + f.calls.messages,
      f.calls.count,
      f.calls.answered,
      f.calls.refused,
      f.calls.failed,
    ].map(String),
    ...[d.totalMs, d.meanMs, d.p50Ms, d.p95Ms].map(seconds),
  ];
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
