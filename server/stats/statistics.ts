import { ProtoflyError } from '../../core/errors.js';
import type { Stats, StatsBucket, StatsFigures, StatsPolicy } from '../../core/generated/types.js';
import { validateStatsQuery } from '../../core/generated/validators.js';
import { assertValid } from '../../core/validate.js';
import type { PolicyCount } from '../policy/policy.js';
import type { Cdr, CdrGroup } from '../services/service.js';

const BUCKET_MS: Readonly<Record<StatsBucket, number>> = { hour: 3_600_000, day: 86_400_000 };
/** Buckets a range may hold: a year by day, six weeks by hour. */
export const MAX_BUCKETS = 1000;
/** Foreign domains listed at most, those with the most conversations. */
export const MAX_DOMAINS = 100;
const DAY_MS = BUCKET_MS.day;

/** A time range and its buckets: conversations that started in [from, to). */
export interface StatsRange {
  readonly from: number;
  readonly to: number;
  readonly bucket: StatsBucket;
}

/** Where a domain's figures come from. */
export interface StatsSources {
  readonly domain: string;
  /** The domain's CDRs, added up where they are kept. */
  readonly cdr: Pick<Cdr, 'aggregate'>;
  /** The node's policy decisions by rule, since it started. */
  readonly policy?: { counts(): ReadonlyMap<string, Readonly<PolicyCount>> };
  /** The node's refusals by error code, since it started. */
  readonly refused?: ReadonlyMap<string, number>;
}

/** How a call's outcome counts: answered, refused or failed; a call still ringing is in none. */
const CALL_CLASS: Readonly<Record<string, 'answered' | 'refused' | 'failed'>> = {
  answered: 'answered',
  completed: 'answered',
  rejected: 'refused',
  cancelled: 'failed',
  unanswered: 'failed',
  interrupted: 'failed',
};

/**
 * The range a query asks for (schemas/stats.schema.json `StatsQuery`): `from` and `to` as ISO
 * 8601, by default the 24 hours to `now`, an empty one being its default; `bucket` hour (default)
 * or day.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` for an unknown parameter, a time that is not ISO 8601 or
 *   no real date, `from` not before `to`, or more than {@link MAX_BUCKETS} buckets.
 */
export function statsRange(params: URLSearchParams, now = Date.now()): StatsRange {
  const given: Record<string, string> = {};
  for (const [name, value] of params) if (value !== '') given[name] = value;
  const query: unknown = given;
  assertValid(validateStatsQuery, query, 'statistics query (from, to, bucket)');
  const to = query.to === undefined ? now : time(query.to, 'to');
  const from = query.from === undefined ? to - DAY_MS : time(query.from, 'from');
  const bucket = query.bucket ?? 'hour';
  if (from >= to) {
    throw new ProtoflyError('PF_ERR_SCHEMA', `statistics query: from must be before to`, {
      pointer: '/from',
    });
  }
  const buckets = Math.ceil((to - aligned(from, bucket)) / BUCKET_MS[bucket]);
  if (buckets > MAX_BUCKETS) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `statistics query: ${buckets} buckets of ${bucket === 'hour' ? 'an hour' : 'a day'}; at most ${MAX_BUCKETS}`,
      { pointer: '/bucket' },
    );
  }
  return { from, to, bucket };
}

/**
 * A domain's statistics over `range` (schemas/stats.schema.json `Stats`): the CDR figures added
 * up by the Cdr backend, classified here; the policy's and the node's live counters beside them.
 */
export async function statistics(sources: StatsSources, range: StatsRange): Promise<Stats> {
  const size = BUCKET_MS[range.bucket];
  const agg = await sources.cdr.aggregate({
    since: range.from,
    until: range.to,
    bucketMs: size,
    domain: sources.domain,
  });
  const buckets: Stats['buckets'] = [];
  for (let t = aligned(range.from, range.bucket); t < range.to; t += size) {
    buckets.push({ start: new Date(t).toISOString(), figures: figures(agg.buckets.get(t)) });
  }
  const breakdown = (groups: ReadonlyMap<string, CdrGroup>, limit = Number.POSITIVE_INFINITY) =>
    Object.fromEntries(
      [...groups]
        .map(([name, g]) => [name, figures(g)] as const)
        .sort(([, x], [, y]) => conversations(y) - conversations(x))
        .slice(0, limit),
    );
  return {
    domain: sources.domain,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    bucket: range.bucket,
    total: figures(agg.total),
    buckets,
    protocols: breakdown(agg.protocols),
    stubs: breakdown(agg.stubs),
    domains: breakdown(agg.domains, MAX_DOMAINS),
    policy: policyOf(sources.policy?.counts() ?? new Map()),
    refusals: Object.fromEntries(sources.refused ?? []),
  };
}

/** A group's figures, its call outcomes classified; zeros for a group with no records. */
function figures(g: CdrGroup | undefined): StatsFigures {
  const chats: StatsFigures['chats'] = { count: 0, messages: 0, outcomes: {} };
  const d = g?.durations ?? { count: 0, totalMs: 0, p50Ms: 0, p95Ms: 0 };
  const calls: StatsFigures['calls'] = {
    count: 0,
    messages: 0,
    outcomes: {},
    answered: 0,
    refused: 0,
    failed: 0,
    durations: { ...d, meanMs: d.count ? Math.round(d.totalMs / d.count) : 0 },
  };
  for (const o of g?.outcomes ?? []) {
    const side = o.kind === 'chat' ? chats : calls;
    side.count += o.records;
    side.messages += o.messages;
    side.outcomes[o.outcome] = (side.outcomes[o.outcome] ?? 0) + o.records;
    const cls = o.kind === 'call' ? CALL_CLASS[o.outcome] : undefined;
    if (cls) calls[cls] += o.records;
  }
  return { chats, calls };
}

function conversations(f: StatsFigures): number {
  return f.chats.count + f.calls.count;
}

function policyOf(counts: ReadonlyMap<string, Readonly<PolicyCount>>): StatsPolicy {
  const policy: StatsPolicy = { allowed: 0, refused: 0, flood: 0, rules: {} };
  for (const [rule, n] of counts) {
    policy.allowed += n.allowed;
    policy.refused += n.refused;
    policy.flood += n.flood;
    policy.rules[rule] = { allowed: n.allowed, refused: n.refused, flood: n.flood };
  }
  return policy;
}

/** The start of the UTC bucket `t` is in. */
function aligned(t: number, bucket: StatsBucket): number {
  return Math.floor(t / BUCKET_MS[bucket]) * BUCKET_MS[bucket];
}

function time(value: string, name: 'from' | 'to'): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new ProtoflyError('PF_ERR_SCHEMA', `statistics query: ${name} '${value}' is no real date`, {
      pointer: `/${name}`,
    });
  }
  return ms;
}
