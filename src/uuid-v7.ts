/**
 * UUID version 7 (RFC 9562 section 5.7): 48 bits of Unix time in milliseconds, then 74 random bits (with the version
 * and variant bits), as the 36-character text of randomUUID(). Ids made later sort after earlier ones (to the
 * millisecond), so the stores' indexes keyed by them (jobs, job_events and results by job id) grow at their right
 * end instead of at a random leaf: issue 15 measured the SQLite store's WAL at 48.0 pages per verified update with
 * random (version 4) job ids and 40.2 with these (bench/_store-count.ts, STORE_COUNT_WAL=1, 2,000 updates). The ids
 * stay unguessable (74 random bits); they tell when they were made, as the records they name already do.
 */
import { randomFillSync } from 'node:crypto';

/** random bytes drawn 256 ids at a time (one getrandom per 256) */
const pool = Buffer.alloc(16 * 256);
let next = pool.length;

/** a version 7 UUID for time `now` (ms since the epoch; default the clock) */
export function uuidV7(now: number = Date.now()): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const b = pool.subarray(next, next + 16);
  next += 16;
  b.writeUIntBE(Math.max(0, Math.min(Math.trunc(now), 2 ** 48 - 1)), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
