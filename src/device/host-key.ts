/** SSH host keys for the simulator's devices and the PVE's NETCONF endpoint. */
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { HsvError } from '../errors.js';
import { HOST_KEY_FILE } from '../netconf/server/host-keys.js';

/**
 * The device's SSH host key in DIR/ssh_host_ed25519_key, created when absent. ssh2 cannot parse about 1 in
 * 200 of the ed25519 keys it generates itself ("Malformed OpenSSH private key"), so a new key is checked
 * and generated again until it parses; an existing unreadable key is replaced.
 */
export async function loadOrCreateDeviceHostKey(dir: string): Promise<string> {
  const file = join(dir, HOST_KEY_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const text = await readFile(file, 'utf8');
    if (!(ssh2.utils.parseKey(text) instanceof Error)) return text;
  } catch {
    // created below
  }
  for (let i = 0; i < 50; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'henb-sw-verify simulated device' });
    if (ssh2.utils.parseKey(pair.private) instanceof Error) continue;
    await writeFile(`${file}.tmp`, pair.private, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return pair.private;
  }
  throw new HsvError('ERR_SIM_HOST_KEY', 'cannot generate a usable SSH host key');
}

