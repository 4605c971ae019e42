import { dirname, join, resolve } from 'node:path';
import { localService } from '../server/backends/local-service.js';
import type { CdrRecord } from '../server/services/service.js';
import { type Command, parse, textTable, usageError } from './command.js';

const usage =
  'protofly cdr (--db <cdr.sqlite> | --data <domain data dir>) [--since <ISO time>] [--until <ISO time>] [--party <address>] [--limit <n>] [--format table|csv|json]';

const COLUMNS = [
  'id',
  'kind',
  'party_a',
  'party_b',
  'call_id',
  'protocol',
  'stub',
  'start',
  'end',
  'outcome',
  'messages',
];

/**
 * `protofly cdr`: lists and exports the call and chat detail records of a cdr-sqlite
 * database, newest first. It only reads: safe while the domain runs (WAL readers never wait).
 */
export const cdr: Command = {
  summary: 'list or export (CSV, JSON) the call and chat detail records of a domain',
  usage,
  help: [
    'Options:',
    '  --data <dir>       the domain data directory; reads <dir>/cdr.sqlite',
    '  --db <file>        a cdr-sqlite database instead',
    '  --since <ISO>      records that started at or after this time',
    '  --until <ISO>      records that started before this time',
    '  --party <address>  records with this party, e.g. user://b.example/bob',
    '  --limit <n>        at most n records, newest first (default: all)',
    '  --format <f>       table (default), csv or json',
    '',
    'It only reads: safe while the domain runs.',
    '',
    'Example:',
    '  protofly cdr --data .protofly/localhost --since 2026-01-01T00:00:00Z --format csv',
  ].join('\n'),
  async run(args) {
    const { values } = parse(
      args,
      {
        db: { type: 'string' },
        data: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        party: { type: 'string' },
        limit: { type: 'string' },
        format: { type: 'string' },
      },
      'cdr',
    );
    const file = values.db ?? (values.data ? join(values.data, 'cdr.sqlite') : undefined);
    if (!file) throw usageError('cdr', '--db or --data is required');
    const format = values.format ?? 'table';
    if (!['table', 'csv', 'json'].includes(format)) {
      throw usageError('cdr', `--format '${format}' is not table, csv or json`);
    }
    const database = resolve(file);
    const store = await localService('cdr', {
      dataDir: dirname(database),
      config: { database, readonly: true },
    });
    try {
      const records = await store.list({
        ...(values.since ? { since: time(values.since, 'since') } : {}),
        ...(values.until ? { until: time(values.until, 'until') } : {}),
        ...(values.party ? { party: values.party } : {}),
        ...(values.limit ? { limit: count(values.limit) } : {}),
      });
      console.log(format === 'json' ? JSON.stringify(records.map(jsonOf), null, 2) : text(records, format));
    } finally {
      await store.close?.();
    }
    return 0;
  },
};

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

/** A record's row: its columns in order, times as ISO 8601. */
function row(r: CdrRecord): string[] {
  return [
    String(r.id),
    r.kind,
    r.parties[0],
    r.parties[1],
    r.callId ?? '',
    r.protocol,
    r.stub,
    iso(r.start),
    iso(r.end),
    r.outcome,
    String(r.messages),
  ];
}

/** A record as exported to JSON: times as ISO 8601, null where absent. */
function jsonOf(r: CdrRecord): Record<string, unknown> {
  return { ...r, callId: r.callId ?? null, start: iso(r.start), end: iso(r.end) || null };
}

function text(records: readonly CdrRecord[], format: string): string {
  const rows = [COLUMNS, ...records.map(row)];
  if (format === 'csv') return rows.map((cells) => cells.map(csvCell).join(',')).join('\n');
  return textTable(rows);
}

/** RFC 4180: a cell with a comma, quote or line break is quoted, its quotes doubled. */
function csvCell(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

function time(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw usageError('cdr', `--${name} '${value}' is not an ISO 8601 time`);
  return ms;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw usageError('cdr', `--limit '${value}' is not a positive integer`);
  return n;
}
