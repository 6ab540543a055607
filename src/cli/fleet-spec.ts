/**
 * `--fleet healthy=3,compromised=1,healthy@tpm=1,...`: device profiles and counts, optionally with a trust root
 * (`@tpm`: a swtpm per device; `@software-key`); devices are named `<profile>-<n>`, `<profile>-tpm-<n>`.
 */
import { CliUsageError } from './errors.js';
import { PROFILES, isDeviceProfile, simulatedHenbId } from '../simulator/index.js';
import type { DeviceProfile, TrustRoot } from '../simulator/index.js';

export interface FleetEntry {
  profile: DeviceProfile;
  count: number;
  /** absent: the command's --trust-root (default software-key) */
  trustRoot?: TrustRoot;
}

export const DEFAULT_FLEET = 'healthy=3,compromised=1,bad-install=1';
export const MAX_FLEET = 5000;

export function parseFleet(text: string): FleetEntry[] {
  const out: FleetEntry[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)(?:@(tpm|software-key))?=(\d{1,5})$/.exec(part);
    if (!m || !isDeviceProfile(m[1] as string)) {
      throw new CliUsageError(`--fleet expects PROFILE[@tpm]=COUNT[,...] with PROFILE one of ${PROFILES.join(', ')}, got '${part}'`);
    }
    const profile = m[1] as DeviceProfile;
    const trustRoot = m[2] as TrustRoot | undefined;
    if (out.some((e) => e.profile === profile && e.trustRoot === trustRoot)) throw new CliUsageError(`--fleet lists ${profile}${trustRoot ? `@${trustRoot}` : ''} twice`);
    const count = Number(m[3]);
    if (count > 0) out.push({ profile, count, ...(trustRoot !== undefined ? { trustRoot } : {}) });
  }
  const total = out.reduce((s, e) => s + e.count, 0);
  if (total === 0) throw new CliUsageError(`--fleet must name at least one device, got '${text}'`);
  if (total > MAX_FLEET) throw new CliUsageError(`--fleet names ${total} devices, at most ${MAX_FLEET}`);
  return out;
}

/** device names in order: healthy-1, healthy-2, compromised-1, healthy-tpm-1 ... (trustRoot: the command's default) */
export function fleetNames(fleet: FleetEntry[], trustRoot: TrustRoot = 'software-key'): Array<{ id: string; profile: DeviceProfile }> {
  return fleet.flatMap((e) => Array.from({ length: e.count }, (_, i) => ({ id: simulatedHenbId(e.profile, e.trustRoot ?? trustRoot, i + 1), profile: e.profile })));
}

/** `--trust-root software-key|tpm` (default software-key) */
export function parseTrustRoot(v: string | undefined): TrustRoot {
  if (v === undefined || v === 'software-key') return 'software-key';
  if (v === 'tpm') return 'tpm';
  throw new CliUsageError(`--trust-root must be software-key or tpm, got '${v}'`);
}
