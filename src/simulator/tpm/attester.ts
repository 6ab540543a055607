/**
 * The device side of TPM 2.0 evidence: a femtocell's attester over a real TPM 2.0 (here swtpm, driven by the
 * Debian tpm2-tools). It holds an endorsement key (EK, persistent 0x81010001) and an attestation key (AK,
 * ECC P-256/ECDSA or RSA 2048/RSASSA, SHA-256, persistent 0x81010002) created under the EK by
 * tpm2_createak (restricted signing key: the TPM signs only what it generated itself). `measure` extends a
 * PCR with a component's SHA-256 and appends the matching EV_IPL event to the TCG event log it keeps;
 * `quote` is TPM2_Quote over the verifier's nonce (TPMS_ATTEST + TPMT_SIGNATURE) plus that log; `reboot`
 * power-cycles the TPM (PCRs reset, resetCount + 1, the log starts again: the device re-measures from boot).
 *
 * swtpm has no resource manager: every command that loads a transient object or starts a session is
 * followed by `tpm2_flushcontext -t` and `-s` (otherwise "out of memory for object contexts"). Commands are
 * serialised (one TPM, one command at a time).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EV, TPM_ALG, encodeEventLog } from '../../integrity/tpm/index.js';
import type { EventToWrite } from '../../integrity/tpm/index.js';
import { TpmAttesterError } from './errors.js';
import { Swtpm } from './swtpm.js';

export const EK_HANDLE = '0x81010001';
export const AK_HANDLE = '0x81010002';
/** the ECC NIST P-256 EK (TCG default template L-2), made when first asked for */
export const ECC_EK_HANDLE = '0x81010003';
/** the NV index of the RSA 2048 EK certificate (TCG EK Credential Profile) */
export const EK_CERT_NV = '0x1c00002';
/** PCR 9: where a boot loader measures the files it loads (TCG PC Client; GRUB does the same) */
export const DEFAULT_PCR = 9;

export interface TpmQuote {
  /** TPMS_ATTEST */
  attest: Buffer;
  /** TPMT_SIGNATURE */
  signature: Buffer;
  /** the TCG crypto-agile event log (SHA-256 digests) */
  log: Buffer;
  /** the PCRs quoted (SHA-256 bank) */
  pcrs: number[];
}

/** What a device's trust root offers the simulator (`--trust-root tpm`). */
export interface TpmAttester {
  /** the swtpm process id while it runs (diagnostics; tests check nothing is left running) */
  readonly pid: number | undefined;
  /** the TCTI string of its swtpm (TPM2TOOLS_TCTI), for diagnostics with tpm2-tools */
  readonly tcti: string;
  /** the AK as TPM2B_PUBLIC (what the PVE enrolls) */
  akPublic(): Buffer;
  /** the EK as TPM2B_PUBLIC */
  ekPublic(): Buffer;
  /** extend `pcr` (default 9) with the component's SHA-256 digest and log it */
  measure(component: string, digestHex: string, pcr?: number): Promise<void>;
  /** TPM2_Quote over the nonce, of the SHA-256 bank of every measured PCR (and PCR 9) */
  quote(nonce: Buffer): Promise<TpmQuote>;
  /** power cycle: PCRs reset, resetCount + 1, empty log */
  reboot(): Promise<void>;
  /**
   * the RSA EK's certificate (DER) from NV index 0x01c00002, when the TPM was manufactured with one
   * (TpmAttesterOptions.ekCertificateCa); undefined otherwise
   */
  ekCertificate(): Buffer | undefined;
  /**
   * TPM2_ActivateCredential with the AK and the EK (policy session PolicySecret(endorsement)): the credential a
   * verifier made for this EK and the AK's Name (src/integrity/tpm makeCredential); fails for another AK or EK
   */
  activateCredential(credentialBlob: Buffer, secret: Buffer, ek?: 'rsa' | 'ecc'): Promise<Buffer>;
  /** the ECC P-256 EK as TPM2B_PUBLIC (created at 0x81010003 under the default template when first asked for) */
  eccEkPublic(): Promise<Buffer>;
  close(): Promise<void>;
}

export interface TpmAttesterOptions {
  keyType?: 'ecc' | 'rsa';
  /** where swtpm keeps its state; default a fresh temporary directory, removed on close */
  stateDir?: string;
  /** per tpm2-tools command (default 10000 ms) */
  commandTimeoutMs?: number;
  /**
   * manufacture the TPM with an EK certificate signed by a local CA (swtpm_setup --create-ek-cert with
   * swtpm_localca, as a TPM vendor does): the CA's state directory (created with its root and issuer
   * certificates on first use; `swtpm-localca-rootca-cert.pem` is the manufacturer CA a PVE trusts, `issuercert.pem`
   * the intermediate). Only when the state directory holds no TPM yet.
   */
  ekCertificateCa?: string;
}

/** swtpm_setup: a new TPM state with RSA and ECC EKs and their certificates from swtpm_localca in `caDir`. */
async function manufacture(stateDir: string, caDir: string, work: string, timeoutMs: number): Promise<void> {
  if (existsSync(join(stateDir, 'tpm2-00.permall'))) return;
  await mkdir(caDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const localca = join(work, 'swtpm-localca.conf');
  const options = join(work, 'swtpm-localca.options');
  const setup = join(work, 'swtpm_setup.conf');
  await writeFile(localca, `statedir = ${caDir}\nsigningkey = ${join(caDir, 'signkey.pem')}\nissuercert = ${join(caDir, 'issuercert.pem')}\ncertserial = ${join(caDir, 'certserial')}\n`);
  await writeFile(options, '--platform-manufacturer henb-sw-verify\n--platform-version 1.0\n--platform-model femtocell-simulator\n');
  await writeFile(setup, `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${localca}\ncreate_certs_tool_options = ${options}\nactive_pcr_banks = sha256\n`);
  await new Promise<void>((resolve, reject) => {
    execFile('/usr/bin/swtpm_setup', ['--tpm2', '--tpmstate', stateDir, '--create-ek-cert', '--config', setup, '--overwrite'],
      { timeout: Math.max(timeoutMs, 60_000) }, (err, stdout, stderr) => {
        if (err) reject(new TpmAttesterError('ERR_TPM_START', 'swtpm_setup could not manufacture the TPM with an EK certificate', { cause: new Error(String(stderr || stdout).trim() || err.message) }));
        else resolve();
      });
  });
}

const TOOLS = '/usr/bin';

/** Whether swtpm and tpm2-tools are installed (what `--trust-root tpm` needs; scripts/install-peers.sh). */
export function tpmToolsAvailable(): boolean {
  return existsSync('/usr/bin/swtpm') && existsSync(join(TOOLS, 'tpm2_quote')) && existsSync(join(TOOLS, 'tpm2_createak'));
}
const COMPONENT = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

/** Starts swtpm, creates (or, with an existing stateDir, reuses) the EK and the AK. */
export async function createTpmAttester(opts: TpmAttesterOptions = {}): Promise<TpmAttester> {
  if (!existsSync(join(TOOLS, 'tpm2_quote'))) throw new TpmAttesterError('ERR_TPM_UNAVAILABLE', 'tpm2-tools is not installed (scripts/install-peers.sh installs it)');
  const ownState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'hsv-swtpm-')));
  const work = await mkdtemp(join(tmpdir(), 'hsv-tpm-work-'));
  const tpm = new Swtpm({ stateDir });
  const a = new SwtpmAttester(tpm, work, ownState ? stateDir : null, opts.commandTimeoutMs ?? 10_000, opts.keyType ?? 'ecc');
  try {
    if (opts.ekCertificateCa !== undefined) await manufacture(stateDir, opts.ekCertificateCa, work, opts.commandTimeoutMs ?? 10_000);
    await tpm.start();
    await a.provision();
  } catch (err) {
    await a.close();
    throw err;
  }
  return a;
}

class SwtpmAttester implements TpmAttester {
  private events: EventToWrite[] = [];
  private ak: Buffer = Buffer.alloc(0);
  private ek: Buffer = Buffer.alloc(0);
  private ekCert: Buffer | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private seq = 0;

  constructor(
    private readonly tpm: Swtpm,
    private readonly work: string,
    private readonly ownState: string | null,
    private readonly timeoutMs: number,
    private readonly keyType: 'ecc' | 'rsa',
  ) {}

  /** The swtpm process id (for tests that check nothing is left running). */
  get pid(): number | undefined {
    return this.tpm.pid;
  }

  get tcti(): string {
    return this.tpm.tcti;
  }

  async provision(): Promise<void> {
    await this.serial(async () => {
      const handles = await this.tool('tpm2_getcap', ['handles-persistent']);
      if (!handles.includes(EK_HANDLE)) {
        await this.tool('tpm2_createek', ['-c', EK_HANDLE, '-G', 'rsa', '-u', this.file('ek.pub')]);
        await this.flush();
      }
      if (!handles.includes(AK_HANDLE)) {
        const alg = this.keyType === 'ecc' ? ['-G', 'ecc', '-s', 'ecdsa'] : ['-G', 'rsa', '-s', 'rsassa'];
        await this.tool('tpm2_createak', ['-C', EK_HANDLE, '-c', this.file('ak.ctx'), ...alg, '-g', 'sha256', '-u', this.file('ak.pub'), '-f', 'tss', '-n', this.file('ak.name')]);
        await this.flush();
        await this.tool('tpm2_evictcontrol', ['-C', 'o', '-c', this.file('ak.ctx'), AK_HANDLE]);
        await this.flush();
      }
      await this.tool('tpm2_readpublic', ['-c', AK_HANDLE, '-f', 'tss', '-o', this.file('akp.pub')]);
      await this.tool('tpm2_readpublic', ['-c', EK_HANDLE, '-f', 'tss', '-o', this.file('ekp.pub')]);
      await this.flush();
      this.ak = await readFile(this.file('akp.pub'));
      this.ek = await readFile(this.file('ekp.pub'));
      const nv = await this.tool('tpm2_getcap', ['handles-nv-index']);
      if (nv.toLowerCase().includes(EK_CERT_NV)) {
        await this.tool('tpm2_nvread', [EK_CERT_NV, '-o', this.file('ek.der')]);
        this.ekCert = await readFile(this.file('ek.der'));
      }
    });
  }

  ekCertificate(): Buffer | undefined {
    return this.ekCert === undefined ? undefined : Buffer.from(this.ekCert);
  }

  async eccEkPublic(): Promise<Buffer> {
    return this.serial(async () => {
      await this.ensureEccEk();
      return readFile(this.file('ecc-ek.pub'));
    });
  }

  /** the ECC EK: tpm2_createek -G ecc (the same key every time: derived from the endorsement seed) */
  private async ensureEccEk(): Promise<void> {
    const handles = await this.tool('tpm2_getcap', ['handles-persistent']);
    if (!handles.includes(ECC_EK_HANDLE)) {
      await this.tool('tpm2_createek', ['-c', ECC_EK_HANDLE, '-G', 'ecc', '-u', this.file('ecc-ek.created')]);
      await this.flush();
    }
    await this.tool('tpm2_readpublic', ['-c', ECC_EK_HANDLE, '-f', 'tss', '-o', this.file('ecc-ek.pub')]);
    await this.flush();
  }

  async activateCredential(credentialBlob: Buffer, secret: Buffer, ek: 'rsa' | 'ecc' = 'rsa'): Promise<Buffer> {
    return this.serial(async () => {
      if (ek === 'ecc') await this.ensureEccEk();
      const n = ++this.seq;
      const [input, output, session] = [this.file(`c${n}.cred`), this.file(`c${n}.out`), this.file(`c${n}.session`)];
      // the tpm2-tools credential file: magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET
      const header = Buffer.alloc(8);
      header.writeUInt32BE(0xbadcc0de, 0);
      header.writeUInt32BE(1, 4);
      await writeFile(input, Buffer.concat([header, credentialBlob, secret]));
      try {
        // the EK's policy: PolicySecret of the endorsement hierarchy
        await this.tool('tpm2_startauthsession', ['--policy-session', '-S', session]);
        await this.tool('tpm2_policysecret', ['-S', session, '-c', 'e']);
        await this.tool('tpm2_activatecredential', ['-c', AK_HANDLE, '-C', ek === 'ecc' ? ECC_EK_HANDLE : EK_HANDLE, '-i', input, '-o', output, '-P', `session:${session}`]);
        return await readFile(output);
      } finally {
        await this.tool('tpm2_flushcontext', [session]).catch(() => undefined);
        await this.flush().catch(() => undefined);
        await Promise.all([input, output, session].map((f) => rm(f, { force: true })));
      }
    });
  }

  akPublic(): Buffer {
    return Buffer.from(this.ak);
  }

  ekPublic(): Buffer {
    return Buffer.from(this.ek);
  }

  async measure(component: string, digestHex: string, pcr = DEFAULT_PCR): Promise<void> {
    if (!COMPONENT.test(component)) throw new TpmAttesterError('ERR_TPM_INPUT', 'a component name is 1..128 printable ASCII characters');
    if (!/^[0-9a-fA-F]{64}$/.test(digestHex)) throw new TpmAttesterError('ERR_TPM_INPUT', 'a component digest is a SHA-256 (64 hex characters)');
    if (!Number.isInteger(pcr) || pcr < 0 || pcr > 15) throw new TpmAttesterError('ERR_TPM_INPUT', 'measure into a static PCR (0..15)');
    const digest = digestHex.toLowerCase();
    await this.serial(async () => {
      await this.tool('tpm2_pcrextend', [`${pcr}:sha256=${digest}`]);
      // the log entry follows the extend: a log never shows what the PCR did not get
      this.events.push({ pcr, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.from(digest, 'hex')]]), data: Buffer.from(component, 'utf8') });
    });
  }

  async quote(nonce: Buffer): Promise<TpmQuote> {
    if (!Buffer.isBuffer(nonce) || nonce.length === 0 || nonce.length > 64) throw new TpmAttesterError('ERR_TPM_INPUT', 'a quote nonce is 1..64 octets');
    return this.serial(async () => {
      const pcrs = [...new Set([DEFAULT_PCR, ...this.events.map((e) => e.pcr)])].sort((x, y) => x - y);
      const n = ++this.seq;
      const [m, s] = [this.file(`q${n}.attest`), this.file(`q${n}.sig`)];
      // the log is taken under the same lock as the quote: no measurement can fall between them
      const log = encodeEventLog([TPM_ALG.SHA256], this.events);
      await this.tool('tpm2_quote', ['-c', AK_HANDLE, '-l', `sha256:${pcrs.join(',')}`, '-q', nonce.toString('hex'), '-m', m, '-s', s, '-g', 'sha256']);
      await this.flush();
      const [attest, signature] = await Promise.all([readFile(m), readFile(s)]);
      await Promise.all([rm(m, { force: true }), rm(s, { force: true })]);
      return { attest, signature, log, pcrs };
    });
  }

  async reboot(): Promise<void> {
    await this.serial(async () => {
      // an orderly shutdown first, as an OS does before it reboots: a TPM reset without TPM2_Shutdown counts as a
      // possible dictionary attack (failedTries + 1), and after a few the TPM refuses the AK (DA lockout, 0x921)
      await this.tool('tpm2_shutdown', ['-c']);
      await this.tpm.restart();
      this.events = [];
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // wait for the command in flight, then stop: swtpm is killed whatever happened before
    await this.queue.catch(() => undefined);
    await this.tpm.stop();
    await rm(this.work, { recursive: true, force: true });
    if (this.ownState) await rm(this.ownState, { recursive: true, force: true });
  }

  private file(name: string): string {
    return join(this.work, name);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TpmAttesterError('ERR_TPM_CLOSED', 'the TPM attester is closed'));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async flush(): Promise<void> {
    await this.tool('tpm2_flushcontext', ['-t']);
    await this.tool('tpm2_flushcontext', ['-s']);
  }

  private tool(name: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(join(TOOLS, name), args, { env: { ...process.env, TPM2TOOLS_TCTI: this.tpm.tcti }, timeout: this.timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new TpmAttesterError('ERR_TPM_COMMAND', `${name} failed`, { cause: new Error(String(stderr).trim() || err.message) }));
        else resolve(String(stdout));
      });
    });
  }
}
