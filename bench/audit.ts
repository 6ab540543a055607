/**
 * Audit log cost (src/store/audit.ts, src/oam-plugin/audit.ts), on the SQLite store in a temporary directory:
 *   insert      a plain unaudited insert of the store (putNonce): the baseline
 *   append      appendAudit: read the head, hash, insert (one record of the chain)
 *   append+sign appendAudit, then signAuditHead (ES256) and putAuditHead: what signing every record would cost
 *   transition  saveJobTransition, which appends its own record in the same transaction
 * Each is run for a fixed window, in 3 interleaved rounds; the best round is reported, with ratios to the
 * baseline. The figure decides the design: heads are signed periodically (audit.seal-interval) and at shutdown,
 * not per record.
 *
 * Run: node --import tsx bench/audit.ts [--seconds 0.5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../src/store/index.js';
import { generateSigningKey, signAuditHead } from '../src/tokens/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '0.5' } } });
const WINDOW_MS = Number(values.seconds) * 1000;
const ROUNDS = 3;

const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-audit-'));
const store = await openSqliteStore({ dataDir: dir });
const key = await generateSigningKey('ES256', 'bench');
let n = 0;
const entry = (): { actor: string; action: string; object: string; details: unknown } =>
  ({ actor: 'netconf:admin@1', action: 'config-edit', object: 'running', details: { operation: 'edit-config', changed: [{ module: 'henb-sw-verify', node: 'inventory', change: 'modified' }], n: n++ } });

let job = await store.createJob({ jobId: 'bench-job', henbId: 'henb-bench', kind: 'bench', state: 's0', data: { a: 1 } });

const cases: Record<string, () => Promise<unknown>> = {
  insert: () => store.putNonce({ nonce: `n-${n++}`, purpose: 'bench', expiresAt: Date.now() + 60_000 }),
  append: () => store.appendAudit(entry()),
  'append+sign': async () => {
    const rec = await store.appendAudit(entry());
    await store.putAuditHead({ seq: rec.seq, hash: rec.hash, kid: key.kid, jws: await signAuditHead(rec, key), signedAt: Date.now() });
  },
  transition: async () => {
    job = await store.saveJobTransition(job.jobId, job.state === 's0' ? 's1' : 's0', { expectPrevVersion: job.version, reason: 'bench' });
  },
};

const best: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, op] of Object.entries(cases)) {
    let k = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < WINDOW_MS) {
      await op();
      k++;
    }
    const us = ((performance.now() - t0) * 1000) / k;
    best[name] = Math.min(best[name] ?? Infinity, us);
  }
}
await store.close();
rmSync(dir, { recursive: true, force: true });

const base = best.insert!;
for (const [name, us] of Object.entries(best)) {
  console.log(`${name.padEnd(12)} ${us.toFixed(1).padStart(8)} us/op  ${(us / base).toFixed(2)}x insert`);
}
console.log(`signing every record would cost ${(best['append+sign']! / best.append!).toFixed(2)}x an append; a transition with its record is ${(best.transition! / base).toFixed(2)}x a plain insert`);
