import type { Database } from 'better-sqlite3';
import { ProtoflyError } from '../../../core/errors.js';

/**
 * The CDR schema, one step per version: step n takes a database from version n to n + 1
 * (`PRAGMA user_version`). Steps are only ever added, never edited: a database written by an
 * older protofly is brought up to date by the steps it has not had.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE cdr (
     id INTEGER PRIMARY KEY,
     key TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('chat', 'call')),
     party_a TEXT NOT NULL,
     party_b TEXT NOT NULL,
     call_id TEXT,
     protocol TEXT NOT NULL,
     stub TEXT NOT NULL,
     start INTEGER NOT NULL,
     last INTEGER NOT NULL,
     end INTEGER,
     outcome TEXT NOT NULL,
     messages INTEGER NOT NULL
   );
   CREATE INDEX cdr_open ON cdr (key) WHERE end IS NULL;
   CREATE INDEX cdr_start ON cdr (start);
   CREATE INDEX cdr_party_a ON cdr (party_a, start);
   CREATE INDEX cdr_party_b ON cdr (party_b, start);`,
];

/**
 * Brings `db` to the latest schema, each step in its own transaction with its version bump,
 * so a crash leaves it at one version or the next. The version is read inside the write
 * transaction: node processes starting together apply each step once.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` for a database newer than this protofly knows.
 */
export function migrate(db: Database, file: string): void {
  const step = db.transaction((): boolean => {
    const at = db.pragma('user_version', { simple: true }) as number;
    if (at > MIGRATIONS.length) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `CDR database ${file} is at schema version ${at}, newer than this protofly knows (${MIGRATIONS.length})`,
        { file, version: at },
      );
    }
    if (at === MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[at]!);
    db.pragma(`user_version = ${at + 1}`);
    return true;
  });
  while (step.immediate()) {}
}
