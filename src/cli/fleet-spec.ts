/** `--fleet healthy=3,compromised=1,...`: device profiles and counts; devices are named `<profile>-<n>`. */
import { CliUsageError } from './errors.js';
import { PROFILES, isDeviceProfile } from '../simulator/index.js';
import type { DeviceProfile } from '../simulator/index.js';

export interface FleetEntry {
  profile: DeviceProfile;
  count: number;
}

export const DEFAULT_FLEET = 'healthy=3,compromised=1,bad-install=1';
export const MAX_FLEET = 5000;

export function parseFleet(text: string): FleetEntry[] {
  const out: FleetEntry[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)=(\d{1,5})$/.exec(part);
    if (!m || !isDeviceProfile(m[1] as string)) {
      throw new CliUsageError(`--fleet expects PROFILE=COUNT[,PROFILE=COUNT...] with PROFILE one of ${PROFILES.join(', ')}, got '${part}'`);
    }
    const profile = m[1] as DeviceProfile;
    if (out.some((e) => e.profile === profile)) throw new CliUsageError(`--fleet lists ${profile} twice`);
    const count = Number(m[2]);
    if (count > 0) out.push({ profile, count });
  }
  const total = out.reduce((s, e) => s + e.count, 0);
  if (total === 0) throw new CliUsageError(`--fleet must name at least one device, got '${text}'`);
  if (total > MAX_FLEET) throw new CliUsageError(`--fleet names ${total} devices, at most ${MAX_FLEET}`);
  return out;
}

/** device names in order: healthy-1, healthy-2, compromised-1, ... */
export function fleetNames(fleet: FleetEntry[]): Array<{ id: string; profile: DeviceProfile }> {
  return fleet.flatMap((e) => Array.from({ length: e.count }, (_, i) => ({ id: `${e.profile}-${i + 1}`, profile: e.profile })));
}
