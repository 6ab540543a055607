/**
 * A typed loader for better-sqlite3 (no @types package is installed; this declares the small part we use).
 * Other store modules (e.g. the notification event log) may use it too.
 */
import { createRequire } from 'node:module';

export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): SqliteDatabase;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  /** wraps fn in BEGIN/COMMIT, or in a SAVEPOINT when a transaction is already open */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): void;
  readonly open: boolean;
  readonly inTransaction: boolean;
  readonly name: string;
  readonly memory: boolean;
}

export interface OpenDatabaseOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** busy timeout in ms */
  timeout?: number;
}

type DatabaseCtor = new (path: string, options?: OpenDatabaseOptions) => SqliteDatabase;

const require = createRequire(import.meta.url);
let ctor: DatabaseCtor | undefined;

/** Opens (creating if needed) a SQLite database file, or ':memory:'. */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  ctor ??= require('better-sqlite3') as DatabaseCtor;
  return new ctor(path, options);
}
