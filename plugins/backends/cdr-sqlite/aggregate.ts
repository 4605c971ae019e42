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

/**
 * The records of the range, each once per group it counts in (`dim`, `key`): in all, in its
 * bucket, by protocol, by stub, and by foreign domain when it has one. The range is read
 * through the `cdr_start` index; the grouping and the percentiles run inside SQLite, so what
 * reaches JavaScript is a few rows a group, however many records there are.
 */
const GROUPED = `
  WITH r AS (
    SELECT kind, outcome, messages, protocol, stub,
      -- Bound numbers arrive as REAL: integer division needs an INTEGER.
      (start / CAST(@bucketMs AS INTEGER)) * CAST(@bucketMs AS INTEGER) AS bucket,
      CASE WHEN ${domainOf('party_a')} <> @domain THEN ${domainOf('party_a')}
           WHEN ${domainOf('party_b')} <> @domain THEN ${domainOf('party_b')} END AS foreign_domain,
      CASE WHEN kind = 'call' AND outcome = 'completed' AND end IS NOT NULL THEN end - start END AS dur
    FROM cdr WHERE start >= @since AND start < @until
  ), g AS (
    SELECT 'total' AS dim, '' AS key, * FROM r
    UNION ALL SELECT 'buckets', CAST(bucket AS TEXT), * FROM r
    UNION ALL SELECT 'protocols', protocol, * FROM r
    UNION ALL SELECT 'stubs', stub, * FROM r
    UNION ALL SELECT 'domains', foreign_domain, * FROM r WHERE foreign_domain IS NOT NULL
  )`;

interface OutcomeRow {
  dim: Dimension;
  key: string;
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

/** The Cdr service's `aggregate` on a cdr-sqlite database: one read transaction, two statements. */
export function aggregator(db: Database): (query: CdrAggregateQuery) => CdrAggregate {
  const outcomes = db.prepare<[CdrAggregateQuery], OutcomeRow>(
    `${GROUPED}
     SELECT dim, key, kind, outcome, count(*) AS records, sum(messages) AS messages
     FROM g GROUP BY dim, key, kind, outcome`,
  );
  // Nearest rank: the value of rank ⌈p·n/100⌉, in integers as (p·n + 99) / 100.
  const ranks = db.prepare<[CdrAggregateQuery], RankRow>(
    `${GROUPED}
     SELECT dim, key, dur, rank, n, total FROM (
       SELECT dim, key, dur,
         row_number() OVER (PARTITION BY dim, key ORDER BY dur) AS rank,
         count(*) OVER (PARTITION BY dim, key) AS n,
         sum(dur) OVER (PARTITION BY dim, key) AS total
       FROM g WHERE dur IS NOT NULL)
     WHERE rank = (50 * n + 99) / 100 OR rank = (95 * n + 99) / 100`,
  );
  // One snapshot for both statements: a write between them cannot make the two disagree.
  return db.transaction((query: CdrAggregateQuery): CdrAggregate => {
    const groups = new Map<string, { outcomes: CdrOutcomeCount[]; durations: CdrDurations }>();
    const group = (dim: Dimension, key: string) => {
      const id = `${dim} ${key}`;
      let found = groups.get(id);
      if (!found) {
        found = { outcomes: [], durations: NONE };
        groups.set(id, found);
      }
      return found;
    };
    for (const { dim, key, ...count } of outcomes.all(query)) group(dim, key).outcomes.push(count);
    for (const row of ranks.all(query)) {
      const g = group(row.dim, row.key);
      const d = { ...g.durations, count: row.n, totalMs: row.total };
      if (row.rank === Math.floor((50 * row.n + 99) / 100)) d.p50Ms = row.dur;
      if (row.rank === Math.floor((95 * row.n + 99) / 100)) d.p95Ms = row.dur;
      g.durations = d;
    }
    const by = <K>(dim: Dimension, key: (k: string) => K) => {
      const out = new Map<K, CdrGroup>();
      for (const [id, g] of groups) {
        if (id.startsWith(`${dim} `)) out.set(key(id.slice(dim.length + 1)), g);
      }
      return out;
    };
    return {
      total: groups.get('total ') ?? { outcomes: [], durations: NONE },
      buckets: by('buckets', Number),
      protocols: by('protocols', String),
      stubs: by('stubs', String),
      domains: by('domains', String),
    };
  });
}
