/**
 * A SQLite store whose statements are counted, by SQL text (whitespace folded): what a piece of the flow does in the
 * store, load-independently (issue 15: statements per verified update). The store is the real one over a real file;
 * only the better-sqlite3 handle it gets is wrapped.
 */
import { join } from 'node:path';
import { SQLITE_FILE_NAME, SqliteStore, migrate, openDatabase } from '../../src/store/index.js';
import type { SqliteDatabase, SqliteStatement } from '../../src/store/index.js';

export interface StatementCounts {
  /** statements run since the last reset, by SQL text (BEGIN, COMMIT, SAVEPOINT ... included) */
  readonly bySql: Map<string, number>;
  total(): number;
  /** how many statements whose SQL matches `re` */
  matching(re: RegExp): number;
  reset(): void;
}

const fold = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

/** Opens `<dir>/henb-sw-verify.sqlite` as openSqliteStore does (WAL, synchronous NORMAL, migrated) and counts its statements. */
export function openCountingSqliteStore(dir: string, options: { groupCommit?: boolean } = {}): { store: SqliteStore; counts: StatementCounts } {
  const db = openDatabase(join(dir, SQLITE_FILE_NAME), { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  const bySql = new Map<string, number>();
  const bump = (sql: string): void => { bySql.set(fold(sql), (bySql.get(fold(sql)) ?? 0) + 1); };
  const counted = (st: SqliteStatement, sql: string): SqliteStatement => ({
    run: (...p) => { bump(sql); return st.run(...p); },
    get: (...p) => { bump(sql); return st.get(...p); },
    all: (...p) => { bump(sql); return st.all(...p); },
    iterate: (...p) => { bump(sql); return st.iterate(...p); },
  });
  const wrapped = new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return (sql: string) => counted(target.prepare(sql), sql);
      if (key === 'exec') return (sql: string) => { bump(sql); target.exec(sql); return wrapped; };
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as SqliteDatabase;
  const counts: StatementCounts = {
    bySql,
    total: () => [...bySql.values()].reduce((a, b) => a + b, 0),
    matching: (re) => [...bySql].filter(([sql]) => re.test(sql)).reduce((a, [, n]) => a + n, 0),
    reset: () => bySql.clear(),
  };
  return { store: new SqliteStore(wrapped, options), counts };
}
