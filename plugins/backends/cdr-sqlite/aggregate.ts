import type { Database } from 'better-sqlite3';
import type {
  CdrAggregate,
  CdrAggregateQuery,
  CdrDurations,
  CdrGroup,
  CdrOutcomeCount,
} from '../../../server/services/service.js';

/** The domain of an address (`scheme://domain/...`), in SQL. */
const domainOf = (column: string) =>
  `substr(substr(${column}, instr(${column}, '://') + 3), 1,
     instr(substr(${column}, instr(${column}, '://') + 3) || '/', '/') - 1)`;

/** The records of the range, with what they are grouped by computed once. */
const RANGE = `
  WITH r AS MATERIALIZED (
    SELECT kind, outcome, messages, protocol, stub,
      -- Bound numbers arrive as REAL: integer division needs an INTEGER.
      (start / CAST(@bucketMs AS INTEGER)) * CAST(@bucketMs AS INTEGER) AS bucket,
      CASE WHEN ${domainOf('party_a')} <> @domain THEN ${domainOf('party_a')}
           WHEN ${domainOf('party_b')} <> @domain THEN ${domainOf('party_b')} END AS foreign_domain,
      CASE WHEN kind = 'call' AND outcome = 'completed' AND end IS NOT NULL THEN end - start END AS dur
    FROM cdr WHERE start >= @since AND start < @until
  )`;

/**
 * The answered calls' durations, once per group they count in (in all, in their bucket, by
 * protocol, by stub, by foreign domain when they have one): percentiles do not add up, so each
 * group ranks its own.
 */
const DURATIONS = `${RANGE}, d AS (SELECT * FROM r WHERE dur IS NOT NULL), g AS (
    SELECT 'total' AS dim, '' AS key, dur FROM d
    UNION ALL SELECT 'buckets', CAST(bucket AS TEXT), dur FROM d
    UNION ALL SELECT 'protocols', protocol, dur FROM d
    UNION ALL SELECT 'stubs', stub, dur FROM d
    UNION ALL SELECT 'domains', foreign_domain, dur FROM d WHERE foreign_domain IS NOT NULL
  )`;

/** Records of one bucket, protocol, stub, foreign domain, kind and outcome. */
interface CubeRow {
  bucket: number;
  protocol: string;
  stub: string;
  foreign_domain: string | null;
  kind: 'chat' | 'call';
  outcome: string;
  records: number;
  messages: number;
}

interface RankRow {
  dim: Dimension;
  key: string;
  dur: number;
  rank: number;
  n: number;
  total: number;
}

type Dimension = 'total' | 'buckets' | 'protocols' | 'stubs' | 'domains';

const NONE: CdrDurations = { count: 0, totalMs: 0, p50Ms: 0, p95Ms: 0 };

/**
 * The Cdr service's `aggregate` on a cdr-sqlite database, in one read transaction: the range
 * is read once through the `cdr_start` index and grouped by every dimension at once inside
 * SQLite (a row per bucket, protocol, stub, foreign domain, kind and outcome present, however
 * many records), rolled up here; the durations are ranked inside SQLite, group by group.
 */
export function aggregator(db: Database): (query: CdrAggregateQuery) => CdrAggregate {
  const cube = db.prepare<[CdrAggregateQuery], CubeRow>(
    `${RANGE}
     SELECT bucket, protocol, stub, foreign_domain, kind, outcome, count(*) AS records, sum(messages) AS messages
     FROM r GROUP BY bucket, protocol, stub, foreign_domain, kind, outcome`,
  );
  // Nearest rank: the value of rank ⌈p·n/100⌉, in integers as (p·n + 99) / 100.
  const ranks = db.prepare<[CdrAggregateQuery], RankRow>(
    `${DURATIONS}
     SELECT dim, key, dur, rank, n, total FROM (
       SELECT dim, key, dur,
         row_number() OVER (PARTITION BY dim, key ORDER BY dur) AS rank,
         count(*) OVER (PARTITION BY dim, key) AS n,
         sum(dur) OVER (PARTITION BY dim, key) AS total
       FROM g)
     WHERE rank = (50 * n + 99) / 100 OR rank = (95 * n + 99) / 100`,
  );
  // One snapshot for both statements: a write between them cannot make the two disagree.
  return db.transaction((query: CdrAggregateQuery): CdrAggregate => {
    const groups = new Map<string, { outcomes: Map<string, CdrOutcomeCount>; durations: CdrDurations }>();
    const group = (dim: Dimension, key: string) => {
      const id = `${dim} ${key}`;
      let found = groups.get(id);
      if (!found) {
        found = { outcomes: new Map(), durations: NONE };
        groups.set(id, found);
      }
      return found;
    };
    const add = (dim: Dimension, key: string, row: CubeRow) => {
      const outcomes = group(dim, key).outcomes;
      const id = `${row.kind} ${row.outcome}`;
      const had = outcomes.get(id);
      outcomes.set(id, {
        kind: row.kind,
        outcome: row.outcome,
        records: (had?.records ?? 0) + row.records,
        messages: (had?.messages ?? 0) + row.messages,
      });
    };
    for (const row of cube.all(query)) {
      add('total', '', row);
      add('buckets', String(row.bucket), row);
      add('protocols', row.protocol, row);
      add('stubs', row.stub, row);
      if (row.foreign_domain !== null) add('domains', row.foreign_domain, row);
    }
    for (const row of ranks.all(query)) {
      const g = group(row.dim, row.key);
      const d = { ...g.durations, count: row.n, totalMs: row.total };
      if (row.rank === Math.floor((50 * row.n + 99) / 100)) d.p50Ms = row.dur;
      if (row.rank === Math.floor((95 * row.n + 99) / 100)) d.p95Ms = row.dur;
      g.durations = d;
    }
    const done = (g: { outcomes: Map<string, CdrOutcomeCount>; durations: CdrDurations }): CdrGroup => ({
      outcomes: [...g.outcomes.values()],
      durations: g.durations,
    });
    const by = <K>(dim: Dimension, key: (k: string) => K) => {
      const out = new Map<K, CdrGroup>();
      for (const [id, g] of groups) {
        if (id.startsWith(`${dim} `)) out.set(key(id.slice(dim.length + 1)), done(g));
      }
      return out;
    };
    const total = groups.get('total ');
    return {
      total: total ? done(total) : { outcomes: [], durations: NONE },
      buckets: by('buckets', Number),
      protocols: by('protocols', String),
      stubs: by('stubs', String),
      domains: by('domains', String),
    };
  });
}
