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
import { connect } from 'node:net';
import { addressInUse, freePortPair } from '../../free-port.js';
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
    // swtpm binds its two ports itself, so a pair found free can be taken by another process before it does: it
    // then exits saying the address is in use, and is started again on another pair (up to 10 times); any other
    // failure at most 3 times
    for (let attempt = 0, other = 0; attempt < 10 && other < 3; attempt++) {
      try {
        await this.spawnOnce();
        process.once('exit', this.onExit);
        return;
      } catch (err) {
        last = err;
        if (!addressInUse(err)) other++;
      }
    }
    throw new TpmAttesterError('ERR_TPM_START', 'swtpm did not start', { cause: last });
  }

  private async spawnOnce(): Promise<void> {
    // the swtpm TCTI of tpm2-tools talks to the control channel on port + 1
    const port = await freePortPair('127.0.0.1');
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
      // swtpm's own answer on its control port: a listener that merely accepts there or on the server port may be
      // another process's (the port was taken before swtpm bound it, and swtpm is exiting)
      await Promise.race([waitForSwtpm(ctrl, this.opts.startTimeoutMs ?? 5000), exited]);
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

/**
 * Polls swtpm's control channel on 127.0.0.1:ctrlPort every 25 ms with CMD_GET_CAPABILITY until it answers
 * (result 0 and the capabilities), or `timeoutMs` passes. swtpm answers only once it serves both ports; a
 * listener of another process does not answer so.
 */
async function waitForSwtpm(ctrlPort: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      let got = Buffer.alloc(0);
      const s = connect({ host: '127.0.0.1', port: ctrlPort }, () => s.write(CMD_GET_CAPABILITY));
      const done = (v: boolean): void => {
        clearTimeout(t);
        s.destroy();
        resolve(v);
      };
      const t = setTimeout(() => done(false), Math.max(1, Math.min(500, deadline - Date.now())));
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 8) done(got.readUInt32BE(0) === 0);
      });
      s.once('error', () => done(false));
      s.once('close', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`swtpm did not answer on its control port 127.0.0.1:${ctrlPort} within ${timeoutMs} ms`);
}

/** swtpm's control channel command CMD_GET_CAPABILITY (big-endian 1); the answer: result (0: success), capabilities */
const CMD_GET_CAPABILITY = Buffer.from([0, 0, 0, 1]);
