// The audit log on SQLite: the shared audit suite (./audit-contract.ts; PostgreSQL runs it in
// test/interop/postgres-store.test.ts), tampering done with SQL on the database file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQLITE_FILE_NAME, openDatabase, openSqliteStore } from '../../src/store/index.js';
import { auditContract } from './audit-contract.js';

let dir = '';
auditContract('SQLite', {
  kind: 'sqlite',
  fresh: async () => { dir = mkdtempSync(join(tmpdir(), 'hsv-audit-')); },
  open: () => openSqliteStore({ dataDir: dir }),
  exec: async (sql) => {
    const db = openDatabase(join(dir, SQLITE_FILE_NAME), { timeout: 5000 });
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  },
  cleanup: async () => rmSync(dir, { recursive: true, force: true }),
});
