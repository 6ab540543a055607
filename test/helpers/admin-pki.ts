/**
 * A test PKI for the whole test file, with the 'admin-client' certificate (SAN email:admin@example.com) that the
 * server tests map to the user admin: made in beforeAll, its directory removed in afterAll. Read `pki` and `admin`
 * inside tests and hooks (they are set once beforeAll has run). Kept apart from tls-pki.ts, which bench/ imports
 * outside vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import { createTestPki } from './tls-pki.js';
import type { Issued, TestPki } from './tls-pki.js';

export interface AdminPki {
  readonly pki: TestPki;
  readonly admin: Issued;
}

export function useAdminPki(): AdminPki {
  let pki: TestPki | undefined;
  let admin: Issued | undefined;
  beforeAll(() => {
    pki = createTestPki();
    admin = pki.issue('admin-client', { san: 'email:admin@example.com' });
  });
  afterAll(() => pki?.cleanup());
  return {
    get pki() { return pki!; },
    get admin() { return admin!; },
  };
}
