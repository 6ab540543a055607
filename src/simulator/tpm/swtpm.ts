/**
 * One swtpm process (a software TPM 2.0, Debian package swtpm) on 127.0.0.1: a server port for TPM commands
 * and a control port, its state (NV, persistent keys) in a directory that survives restarts. `restart()`
 * is a power cycle: the new process runs TPM2_Startup(CLEAR) (--flags startup-clear), so PCRs reset and
 * resetCount increments. The process is killed on stop(), and on the Node process' exit as a last resort.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { TpmAttesterError } from './errors.js';

export const SWTPM = '/usr/bin/swtpm';

export interface SwtpmOptions {
  stateDir: string;
  /** how long to wait for the server port (default 5000 ms) */
  startTimeoutMs?: number;
}

export class Swtpm {
  private child: ChildProcess | null = null;
  private serverPort = 0;
  private readonly onExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(private readonly opts: SwtpmOptions) {}

  /** The TCTI string for tpm2-tools (TPM2TOOLS_TCTI). */
  get tcti(): string {
    return `swtpm:host=127.0.0.1,port=${this.serverPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get port(): number {
    return this.serverPort;
  }

  async start(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true });
    if (!existsSync(SWTPM)) throw new TpmAttesterError('ERR_TPM_UNAVAILABLE', `${SWTPM} is not installed (scripts/install-peers.sh installs swtpm)`);
    if (this.child) return;
    let last: unknown;
    // a free port can be taken between our probe and swtpm's bind: try again with other ports
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.spawnOnce();
        process.once('exit', this.onExit);
        return;
      } catch (err) {
        last = err;
      }
    }
    throw new TpmAttesterError('ERR_TPM_START', 'swtpm did not start', { cause: last });
  }

  private async spawnOnce(): Promise<void> {
    // the swtpm TCTI of tpm2-tools talks to the control channel on port + 1
    const port = await freePortPair();
    const ctrl = port + 1;
    const child = spawn(SWTPM, [
      'socket', '--tpm2',
      '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`,
      '--flags', 'not-need-init,startup-clear',
      '--tpmstate', `dir=${this.opts.stateDir}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`swtpm exited (${code ?? signal}): ${stderr.trim()}`)));
    });
    exited.catch(() => undefined);
    try {
      await Promise.race([waitForPort(port, this.opts.startTimeoutMs ?? 5000), exited]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    child.on('error', () => undefined);
    this.child = child;
    this.serverPort = port;
  }

  /** Kills swtpm (SIGTERM, then SIGKILL after 2 s) and waits for it to be gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    process.removeListener('exit', this.onExit);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** A power cycle: stop, start on new ports with the same state (TPM Reset: PCRs cleared, resetCount + 1). */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

function listenOn(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** A port P free on 127.0.0.1 with P + 1 free too (at most 20 tries). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await listenOn(0);
    if (p !== null && p < 65535 && (await listenOn(p + 1)) !== null) return p;
  }
  throw new Error('no two adjacent free ports on 127.0.0.1');
}

/** Polls a TCP connect to 127.0.0.1:port every 25 ms until it succeeds or `timeoutMs` passes. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`swtpm did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
