/**
 * The interop peers that the project's scripts start and stop (scripts/postgres-peer-*.sh,
 * scripts/netconfd-peer-*.sh, installed by scripts/install-peers.sh): one throwaway instance per test file, in the
 * file's own PEERS_DIR, on a free loopback port (withFreePort). A missing peer fails the suite with the script's
 * message, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostKeyFingerprint } from '../../src/netconf/server/index.js';
import { withFreePort } from './net.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PeerScriptOptions {
  /** the peer's directory (the scripts' PEERS_DIR) */
  peersDir: string;
  /** what the script needs installed, named in the error */
  needs: string;
  /** more environment for the script */
  env?: Record<string, string>;
}

/** Runs scripts/<name> with PEERS_DIR set; returns its stdout, or throws with its output and how to install the peer. */
export function peerScript(name: string, args: string[], o: PeerScriptOptions): string {
  try {
    return execFileSync('bash', [join(root, 'scripts', name), ...args], {
      env: { ...process.env, PEERS_DIR: o.peersDir, ...o.env }, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`scripts/${name} failed (is ${o.needs} installed? run scripts/install-peers.sh):\n${err.stderr ?? ''}${err.stdout ?? ''}${err.message}`);
  }
}

export interface PostgresPeer {
  /** postgres://hsv:PASSWORD@127.0.0.1:PORT/hsv */
  url: string;
  /** the URL without its password, and the password (as the plugin config takes them: the password on its own) */
  credentials(): { url: string; password: string };
  /** stops the cluster and removes it */
  stop(): void;
}

/** A throwaway PostgreSQL cluster for one test file; a cluster an interrupted run left in peersDir is removed first. */
export async function startPostgresPeer(peersDir: string): Promise<PostgresPeer> {
  const run = (name: string, args: string[] = []): string => peerScript(name, args, { peersDir, needs: 'PostgreSQL' });
  run('postgres-peer-stop.sh');
  let out: string[];
  try {
    out = (await withFreePort((port) => run('postgres-peer-start.sh', [String(port)]), { cleanUp: () => void run('postgres-peer-stop.sh') })).trim().split('\n');
  } catch (err) {
    try {
      run('postgres-peer-stop.sh'); // whatever the failed start left
    } catch {
      // the start's failure is the one to report
    }
    throw err;
  }
  const url = out[out.length - 1] ?? '';
  return {
    url,
    credentials: () => {
      const u = new URL(url);
      const password = decodeURIComponent(u.password);
      u.password = '';
      return { url: u.href, password };
    },
    stop: () => void run('postgres-peer-stop.sh'),
  };
}

/**
 * The afterAll of an interop file with a PostgreSQL peer: `steps` (closing what the file started) in the order given,
 * each run even when one before it failed, then the cluster stopped and the file's directory removed whatever failed
 * before; the first failure is thrown at the end.
 */
export async function endPostgresFile(steps: ReadonlyArray<() => unknown>, cluster: PostgresPeer | undefined, dir?: string): Promise<void> {
  let failed: { error: unknown } | undefined;
  const attempt = async (step: () => unknown): Promise<void> => {
    try {
      await step();
    } catch (error) {
      failed ??= { error };
    }
  };
  for (const step of steps) await attempt(step);
  await attempt(() => cluster?.stop());
  if (dir !== undefined) await attempt(() => rm(dir, { recursive: true, force: true }));
  if (failed !== undefined) throw failed.error;
}

export interface NetconfdPeer {
  port: number;
  /** the SHA256 fingerprint of netconfd's (OpenSSH's) host key, to pin */
  hostKeySha256: string;
  /** stops sshd and netconfd */
  stop(): void;
}

/** netconfd behind OpenSSH's netconf subsystem, with the toaster module (user ncuser, password ncpass). */
export async function startNetconfdPeer(peersDir: string): Promise<NetconfdPeer> {
  const run = (name: string, port: number): string => peerScript(name, [String(port)], { peersDir, needs: 'netconfd', env: { NC_MODULES: 'toaster' } });
  const port = await withFreePort((p) => {
    run('netconfd-peer-start.sh', p);
    return p;
  }, { cleanUp: (p) => void run('netconfd-peer-stop.sh', p) });
  const stop = (): void => void run('netconfd-peer-stop.sh', port);
  try {
    return { port, hostKeySha256: hostKeyFingerprint(readFileSync(join(peersDir, 'keys', 'ssh_host_ed25519_key.pub'), 'utf8')), stop };
  } catch (err) {
    stop();
    throw err;
  }
}
