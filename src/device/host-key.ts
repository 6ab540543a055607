/** SSH host keys for the simulator's devices and the PVE's NETCONF endpoint. */
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from '../netconf/ssh/ssh2.js';
import { HsvError } from '../errors.js';
import { HOST_KEY_FILE, generateEd25519KeyPair } from '../netconf/server/index.js';

/** the host key file of a simulated device (or the PVE's NETCONF endpoint) cannot be created */
export class DeviceHostKeyError extends HsvError<'ERR_SIM_HOST_KEY'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIM_HOST_KEY', message, options);
  }
}

/**
 * The device's SSH host key in DIR/ssh_host_ed25519_key, created when absent (generateEd25519KeyPair
 * discards the keys ssh2 cannot read back); an existing unreadable key is replaced.
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
  try {
    const pair = generateEd25519KeyPair('henb-sw-verify simulated device');
    await writeFile(`${file}.tmp`, pair.private, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return pair.private;
  } catch (e) {
    throw new DeviceHostKeyError(`cannot create the SSH host key ${file}`, { cause: e });
  }
}
