import Database from 'better-sqlite3';
import { ProtoflyError } from '../../../core/errors.js';
import type {
  Cdr,
  CdrAggregate,
  CdrAggregateQuery,
  CdrFilter,
  CdrRecord,
  CdrUpdate,
} from '../../../server/services/service.js';
import { aggregator } from './aggregate.js';
import { migrate } from './migrations.js';

export interface SqliteCdrOptions {
  /** Milliseconds a write waits for another process's. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Open an existing database to read it (`protofly cdr`), never changing it. */
  readonly readonly?: boolean;
}

interface Row {
  id: number;
  kind: 'chat' | 'call';
  party_a: string;
  party_b: string;
  call_id: string | null;
  protocol: string;
  stub: string;
  start: number;
  end: number | null;
  outcome: string;
  messages: number;
}

/**
 * The {@link Cdr} service in a SQLite file. WAL mode: readers (`protofly cdr`) never wait for
 * the writer, a write is one transaction whatever the process does meanwhile (a crash
 * mid-write leaves the last committed state), and node processes on one machine share the
 * file. `synchronous = NORMAL`: a process crash loses nothing committed; a power cut may lose
 * the last transactions, never the file.
 */
export class SqliteCdr implements Cdr {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #record: (updates: readonly CdrUpdate[]) => void;
  readonly #aggregate: (query: CdrAggregateQuery) => CdrAggregate;

  /** @throws ProtoflyError `PF_ERR_CONFIG` when the file cannot be opened or is of a newer schema. */
  constructor(file: string, options: SqliteCdrOptions = {}) {
    this.file = file;
    try {
      this.#db = new Database(file, {
        readonly: options.readonly ?? false,
        fileMustExist: options.readonly ?? false,
      });
      this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      if (!options.readonly) {
        walMode(this.#db, options.busyTimeoutMs ?? 5000);
        this.#db.pragma('synchronous = NORMAL');
        migrate(this.#db, file);
      }
    } catch (err) {
      if (err instanceof ProtoflyError) throw err;
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `cannot open CDR database ${file}: ${(err as Error).message}`,
        {
          file,
        },
      );
    }
    const open = this.#db.prepare<[string], { id: number }>(
      'SELECT id FROM cdr WHERE key = ? AND end IS NULL ORDER BY id DESC LIMIT 1',
    );
    // The later report decides how it stands; counts add up.
    const update = this.#db.prepare(
      `UPDATE cdr SET messages = messages + @messages, start = MIN(start, @first),
         outcome = CASE WHEN @last >= last THEN @outcome ELSE outcome END,
         end = COALESCE(@end, end), last = MAX(last, @last)
       WHERE id = @id`,
    );
    const insert = this.#db.prepare(
      `INSERT INTO cdr (key, kind, party_a, party_b, call_id, protocol, stub, start, last, end, outcome, messages)
       VALUES (@key, @kind, @a, @b, @callId, @protocol, @stub, @first, @last, @end, @outcome, @messages)`,
    );
    this.#record = this.#db.transaction((updates: readonly CdrUpdate[]) => {
      for (const u of updates) {
        const row = { ...u, end: u.end ?? null };
        const found = open.get(u.key);
        if (found) update.run({ ...row, id: found.id });
        else insert.run({ ...row, a: u.parties[0], b: u.parties[1], callId: u.callId ?? null });
      }
    }).immediate;
    this.#aggregate = aggregator(this.#db);
  }

  async record(updates: readonly CdrUpdate[]): Promise<void> {
    this.#record(updates);
  }

  async closeStale(before: number, outcome: string): Promise<number> {
    return this.#db
      .prepare('UPDATE cdr SET end = last, outcome = ? WHERE end IS NULL AND last < ?')
      .run(outcome, before).changes;
  }

  async list(filter: CdrFilter = {}): Promise<readonly CdrRecord[]> {
    const rows = this.#db
      .prepare<unknown[], Row>(
        `SELECT id, kind, party_a, party_b, call_id, protocol, stub, start, end, outcome, messages FROM cdr
         WHERE start >= @since AND start < @until AND (@party IS NULL OR party_a = @party OR party_b = @party)
         ORDER BY start DESC, id DESC LIMIT @limit`,
      )
      .all({
        since: filter.since ?? 0,
        until: filter.until ?? Number.MAX_SAFE_INTEGER,
        party: filter.party ?? null,
        limit: filter.limit ?? -1,
      });
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      parties: [r.party_a, r.party_b] as const,
      ...(r.call_id === null ? {} : { callId: r.call_id }),
      protocol: r.protocol,
      stub: r.stub,
      start: r.start,
      ...(r.end === null ? {} : { end: r.end }),
      outcome: r.outcome,
      messages: r.messages,
    }));
  }

  async aggregate(query: CdrAggregateQuery): Promise<CdrAggregate> {
    return this.#aggregate(query);
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/**
 * Switches the database to WAL. The switch needs the database to itself, and SQLite answers
 * SQLITE_BUSY at once instead of waiting its busy timeout when another process has it open (the
 * node processes of a cluster start together): so wait and try again, until the timeout. WAL
 * is kept in the file, so a database already in it needs nothing.
 */
function walMode(db: Database.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if (!/busy|locked/i.test((err as Error).message) || Date.now() > deadline) throw err;
      Atomics.wait(pause, 0, 0, 20);
    }
  }
}
