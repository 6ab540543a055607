/** startFleet's pure parts: the plan of devices (names, addresses, refusals), the image fetchers, the TLS cert-to-name map. */
import { createHash } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetCertToName, fleetPlan, imageFetchers } from '../../src/simulator/simulator.js';
import type { FleetPki } from '../../src/simulator/tls-pki.js';

describe('fleetPlan', () => {
  it('names each profile\'s devices from firstIndex, tpm ones apart, in the order given', () => {
    const plan = fleetPlan({ fleet: [{ profile: 'healthy', count: 2 }, { profile: 'healthy', count: 1, trustRoot: 'tpm' }], firstIndex: 5 });
    expect(plan.map((p) => [p.henbId, p.trustRoot, p.index])).toEqual([['healthy-5', 'software-key', 0], ['healthy-6', 'software-key', 1], ['healthy-tpm-5', 'tpm', 2]]);
    expect(fleetPlan({ profiles: { healthy: 1, compromised: 0, 'bad-install': 1 } }).map((p) => p.henbId)).toEqual(['healthy-1', 'bad-install-1']);
  });

  it('device i listens on hosts[i % n] at basePort + floor(i / n); free ports without basePort', () => {
    const plan = fleetPlan({ profiles: { healthy: 5 }, hosts: ['127.0.1.1', '127.0.1.2'], basePort: 20000 });
    expect(plan.map((p) => `${p.host}:${p.port}`)).toEqual(['127.0.1.1:20000', '127.0.1.2:20000', '127.0.1.1:20001', '127.0.1.2:20001', '127.0.1.1:20002']);
    expect(fleetPlan({ profiles: { healthy: 2 }, host: '::1' }).map((p) => `${p.host}:${p.port}`)).toEqual(['::1:0', '::1:0']);
    expect(fleetPlan({ profiles: { healthy: 1 } })[0]).toMatchObject({ host: '127.0.0.1', port: 0 });
  });

  it('refuses (ERR_SIM_PROFILE) no device, an unknown profile, a bad count or firstIndex, a name twice', () => {
    const refusal = (o: Parameters<typeof fleetPlan>[0]): unknown => {
      try {
        fleetPlan(o);
      } catch (e) {
        return [(e as { code: string }).code, (e as Error).message];
      }
      return undefined;
    };
    expect(refusal({ profiles: { healthy: 0 } })).toEqual(['ERR_SIM_PROFILE', 'the fleet has no devices']);
    expect(refusal({ fleet: [{ profile: 'nope' as 'healthy', count: 1 }] })).toEqual(['ERR_SIM_PROFILE', expect.stringContaining('unknown profile nope')]);
    expect(refusal({ profiles: { healthy: 1.5 } })).toEqual(['ERR_SIM_PROFILE', expect.stringContaining('whole number')]);
    expect(refusal({ profiles: { healthy: 1 }, firstIndex: 0 })).toEqual(['ERR_SIM_PROFILE', 'firstIndex must be an integer >= 1, got 0']);
    expect(refusal({ fleet: [{ profile: 'healthy', count: 1 }, { profile: 'healthy', count: 1 }] })).toEqual(['ERR_SIM_PROFILE', expect.stringContaining('names healthy-1 twice')]);
  });
});

describe('fleetCertToName', () => {
  it('the fleet client certificate and each certificate of the extra client CA map to the device user; nothing without TLS', () => {
    const pki = { client: { sha256: 'AA:BB' } } as unknown as FleetPki;
    const extra = [{ fingerprint256: 'CC:DD' }] as unknown as X509Certificate[];
    expect(fleetCertToName(pki, extra, 'oam')).toEqual([
      { fingerprint: 'AA:BB', 'map-type': 'specified', name: 'oam' }, { fingerprint: 'CC:DD', 'map-type': 'specified', name: 'oam' },
    ]);
    expect(fleetCertToName(undefined, extra, 'oam')).toEqual([]);
  });
});

describe('imageFetchers', () => {
  it('none by default; the checked one compares the digest, the unchecked one (flaw-digest-unchecked) does not', async () => {
    expect(imageFetchers(undefined)).toBeUndefined();
    expect(imageFetchers(false)).toBeUndefined();
    const dir = await mkdtemp(join(tmpdir(), 'fleet-fetch-'));
    try {
      await writeFile(join(dir, 'img.bin'), 'image');
      const f = imageFetchers({ fileRoot: dir })!;
      const uri = `file://${join(dir, 'img.bin')}`;
      const right = createHash('sha256').update('image').digest('hex');
      const signal = new AbortController().signal;
      await expect(f.checked(uri, right, signal)).resolves.toBeUndefined();
      await expect(f.checked(uri, '00'.repeat(32), signal)).rejects.toThrow();
      await expect(f.unchecked(uri, '00'.repeat(32), signal)).resolves.toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
