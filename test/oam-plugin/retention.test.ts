/**
 * Job retention (issue 14 item 5): config `store.job-retention` (days) prunes final jobs with their history and
 * result tokens when the plugin activates and hourly after; active jobs and the H(e)NB's last result stay.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { activate } from '../../src/oam-plugin/index.js';
import { startRetention } from '../../src/oam-plugin/retention.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import type { NetconfRegistry } from '../../src/netconf/server/registry.js';
import { el } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { validatePluginConfig, readManifest } from '../../src/plugin/manifest.js';

const DAY = 86_400_000;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-retention-'));
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

async function finalJob(store: Store, jobId: string, at: number): Promise<void> {
  await store.createJob({ jobId, henbId: 'h1', kind: 'software-update', state: 'created', data: {} });
  await store.saveJobTransition(jobId, 'verified', { expectPrevVersion: 1, terminal: true, at });
  await store.putResult({ jobId, kind: 'final', henbId: 'h1', earStatus: 'affirming', token: `t-${jobId}`, createdAt: at });
}

const registry: NetconfRegistry = {
  addRpc: () => undefined, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
  notify: async () => undefined, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
};

describe('job retention', () => {
  it('activate prunes final jobs older than store.job-retention days, keeps the young ones and the H(e)NB record', async () => {
    const now = Date.now();
    const seed = await openSqliteStore({ dataDir: dir });
    await seed.putHenb({ henbId: 'h1', rim: 'a'.repeat(64), softwareVersion: '1', state: 'trusted', lastResultToken: 't-old' });
    await finalJob(seed, 'old', now - 10 * DAY);
    await finalJob(seed, 'young', now - 2 * DAY);
    await seed.close();

    const lines: string[] = [];
    const handle = await activate({
      apiVersion: HOST_API_VERSION, registry, log: createLogger({ level: 'info', write: (l) => void lines.push(l) }), dataDir: dir,
      config: { store: { 'job-retention': 7 } }, signal: new AbortController().signal,
    });
    await handle.close();
    const store = await openSqliteStore({ dataDir: dir });
    try {
      expect((await store.listJobs()).map((j) => j.jobId)).toEqual(['young']);
      expect(await store.getResults('old')).toEqual([]);
      expect(await store.listJobEvents('old')).toEqual([]);
      expect((await store.getHenb('h1'))?.lastResultToken).toBe('t-old');
    } finally {
      await store.close();
    }
    expect(lines.join('')).toMatch(/"msg":"job retention: final jobs pruned".*"jobs":1.*"olderThanDays":7/);
  });

  it('the default keeps 90 days; the schema refuses 0', async () => {
    const now = Date.now();
    const seed = await openSqliteStore({ dataDir: dir });
    await finalJob(seed, 'd80', now - 80 * DAY);
    await finalJob(seed, 'd100', now - 100 * DAY);
    await seed.close();
    const handle = await activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: dir, config: {}, signal: new AbortController().signal });
    await handle.close();
    const store = await openSqliteStore({ dataDir: dir });
    expect((await store.listJobs()).map((j) => j.jobId)).toEqual(['d80']);
    await store.close();
    const manifest = await readManifest(join(import.meta.dirname, '../../plugin.json'));
    expect(() => validatePluginConfig(manifest, { store: { 'job-retention': 0 } }, 'config.yaml')).toThrow(/job-retention/);
  });

  it('runs again every interval', async () => {
    vi.useFakeTimers();
    const store = await openSqliteStore({ path: ':memory:' });
    let t = 100 * DAY;
    const r = startRetention({ store, days: 1, log: silentLogger, intervalMs: 1000, now: () => t });
    try {
      await finalJob(store, 'a', t - 2 * DAY);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await store.getJob('a')).toBeUndefined();
      await finalJob(store, 'b', t);
      t += 2 * DAY;
      await vi.advanceTimersByTimeAsync(1000);
      expect(await store.listJobs()).toEqual([]);
    } finally {
      r.close();
      await store.close();
    }
  });
});
