/**
 * The record of provided reference values (src/pve/provided-record.ts): a snapshot and a journal. Appends cost the
 * changed entries only; a long journal is folded into a new snapshot; an append cut short is ignored, any other
 * damaged line stops the PVE; a compaction interrupted after its snapshot replays to the same entries.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_FILE, ProvidedRecord, readProvidedRecord } from '../../src/pve/provided-record.js';
import type { ProvidedEntry } from '../../src/pve/provided.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-record-'));
});
const records: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of records.splice(0)) await r.close();
  await rm(dir, { recursive: true, force: true });
});
const openRecord = async (...a: Parameters<typeof ProvidedRecord.open>): ReturnType<typeof ProvidedRecord.open> => {
  const r = await ProvidedRecord.open(...a);
  records.push(r);
  return r;
};

const entry = (i: number, job = `job-${i}`): ProvidedEntry => ({ iat: 1_700_000_000 + i, jti: `jti-${job}`, jobId: job, values: [{ component: 'rootfs', digest: 'ab'.repeat(32) }], acceptedAt: 1 });
const journal = (): Promise<string> => readFile(join(dir, JOURNAL_FILE), 'utf8');

describe('provided reference values: snapshot and journal', () => {
  it('a write appends only the entries changed since the last one', async () => {
    const r = await openRecord(dir, 100);
    r.set('a', entry(1));
    r.set('b', entry(2));
    await r.write();
    expect((await journal()).trim().split('\n')).toHaveLength(2);
    r.set('b', entry(3, 'job-b2'));
    await r.write();
    await r.write(); // nothing changed: nothing appended
    const lines = (await journal()).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2]!)).toEqual({ henb: 'b', entry: entry(3, 'job-b2') });
    expect((await readProvidedRecord(dir)).henbs).toEqual({ a: entry(1), b: entry(3, 'job-b2') });
  });

  it('a long journal is folded into the snapshot; a reopen has every entry', async () => {
    const r = await openRecord(dir, 10);
    for (let i = 0; i < 25; i++) {
      r.set(`henb-${i % 12}`, entry(i));
      await r.write();
    }
    const { henbs, journalLines } = await readProvidedRecord(dir);
    expect(journalLines).toBeLessThan(12); // folded at 12 lines (as many as H(e)NBs) at least once
    expect(Object.keys(henbs)).toHaveLength(12);
    for (let i = 13; i < 25; i++) expect(henbs[`henb-${i % 12}`]).toEqual(entry(i));
    const again = await openRecord(dir, 10);
    expect(Object.fromEntries(again)).toEqual(henbs);
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0); // folded on open
  });

  it('reads a record written before the journal existed (provided.json alone)', async () => {
    await writeFile(join(dir, 'provided.json'), JSON.stringify({ format: 'henb-sw-verify-provided-reference-values/1', henbs: { a: entry(1) } }) + '\n');
    const r = await openRecord(dir);
    expect(r.get('a')).toEqual(entry(1));
  });

  it('an append cut short (no newline) is ignored and dropped on open; its statement was never acknowledged', async () => {
    const r = await openRecord(dir, 100);
    r.set('a', entry(1));
    await r.write();
    await appendFile(join(dir, JOURNAL_FILE), '{"henb":"b","entry":{"iat":');
    expect(Object.keys((await readProvidedRecord(dir)).henbs)).toEqual(['a']);
    const again = await openRecord(dir, 100);
    again.set('c', entry(3));
    await again.write(); // appended after a clean journal, not glued to the cut line
    expect((await readProvidedRecord(dir)).henbs).toEqual({ a: entry(1), c: entry(3) });
  });

  it('a damaged line that is not the last stops the PVE (ERR_PVE_PROVIDED_FILE)', async () => {
    await writeFile(join(dir, JOURNAL_FILE), '{"henb":"a","entry":{"iat":1}}\nnot json\n{"henb":"b","entry":{"iat":2}}\n');
    await expect(ProvidedRecord.open(dir)).rejects.toMatchObject({ code: 'ERR_PVE_PROVIDED_FILE' });
    await writeFile(join(dir, JOURNAL_FILE), '{"henb":1,"entry":{}}\n');
    await expect(readProvidedRecord(dir)).rejects.toMatchObject({ code: 'ERR_PVE_PROVIDED_FILE' });
    await writeFile(join(dir, JOURNAL_FILE), '');
    await writeFile(join(dir, 'provided.json'), '{"format":"other","henbs":{}}');
    await expect(readProvidedRecord(dir)).rejects.toMatchObject({ code: 'ERR_PVE_PROVIDED_FILE' });
  });

  it('a compaction interrupted after its snapshot (journal not yet emptied) replays to the same entries', async () => {
    const r = await openRecord(dir, 3);
    r.set('a', entry(1));
    r.set('b', entry(2));
    await r.write();
    const lines = await journal();
    r.set('a', entry(5, 'job-a2'));
    await r.write(); // 3 lines: folded, journal emptied
    expect(await journal()).toBe('');
    const snapshot = (await readProvidedRecord(dir)).henbs;
    // the crash: the snapshot is new, the journal still holds what the snapshot was made of
    await writeFile(join(dir, JOURNAL_FILE), lines + JSON.stringify({ henb: 'a', entry: entry(5, 'job-a2') }) + '\n');
    expect((await readProvidedRecord(dir)).henbs).toEqual(snapshot);
    expect(snapshot).toEqual({ a: entry(5, 'job-a2'), b: entry(2) });
  });
});
