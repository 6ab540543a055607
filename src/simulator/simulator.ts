/**
 * The femtocell simulator: each simulated H(e)NB is a NETCONF server over SSH (src/netconf/server) on its own
 * loopback port, with its own host key and credentials, implementing yang/henb-sw-verify-device.yang:
 * software-update (answers started at once; software-update-complete follows after the install),
 * integrity-measurement (signed evidence), rollback, and the software-slots / integrity state. RFC 5277
 * subscriptions (with replay from the device's event log) come from the standard operations.
 *
 * With `tls`, every device also serves NETCONF over TLS (RFC 7589) on a second port, with a certificate issued
 * by the fleet's CA (./tls-pki.ts) and mutual authentication: the fleet's client certificate (or one from
 * `tls.clientCa`) maps to the device's NETCONF user (RFC 7407 cert-to-name). Call home may be over TLS too
 * (RFC 8071 section 4: the device dials, then acts as the TLS server).
 *
 * Profiles (src/device/model.ts): healthy, healthy-reboot, compromised, bad-install, bad-install-reboot, self-check-fail, slow; `unreachable`
 * listens on a port but never speaks SSH (mode 'refuse': closes every connection at once; 'blackhole':
 * holds it open silently).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createPrivateKey, randomBytes } from 'node:crypto';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HsvError } from '../errors.js';
import { generatePrivateKey } from '../generate-key.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { NetconfError } from '../netconf/rpc-error.js';
import type { RpcErrorInfo } from '../netconf/rpc-error.js';
import { createNetconfServer, hostKeyFingerprint, registerStandardOperations } from '../netconf/server/index.js';
import type { NetconfServer } from '../netconf/server/index.js';
import { compileTexts } from '../yang/index.js';
import type { YangModuleInfo, YangValidator } from '../yang/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { completionMessage, fetchAndDigest } from '../integrity/index.js';
import type { FetchAndDigestOptions } from '../integrity/index.js';
import { DeviceError, Femtocell, PROFILES, factoryReferenceValues } from './model.js';
import { callHomeLoop } from './call-home.js';
import type { CallHomeBackoff } from './call-home.js';
import type { Completion, DeviceProfile, ReferenceValues } from './model.js';
import { packageRoot } from '../package-root.js';
import { TpmTrustRoot, isTrustRoot } from './tpm-root.js';
import { loadOrCreateDeviceCert, loadOrCreateFleetPki } from './tls-pki.js';
import type { FleetPki } from './tls-pki.js';
import { certificatesOfPem } from '../netconf/tls/index.js';
import type { CertToNameEntry } from '../netconf/tls/index.js';
import type { TrustRoot } from './tpm-root.js';
import type { TpmAttester } from './tpm/index.js';
import {
  DEVICE_MODULE, DEVICE_NS, activateCredentialReplyXml, attestationKeyXml, completionXml, integrityStateXml, loadOrCreateDeviceHostKey, measurementReplyXml,
  parseActivateCredential, parseIntegrityMeasurement, parseRollback, parseSoftwareUpdate, slotsXml, startedReplyXml,
} from '../device/index.js';
import type { AttestationKey } from '../device/index.js';

export type SimulatorErrorCode = 'ERR_SIM_PROFILE' | 'ERR_SIM_START' | 'ERR_SIM_YANG';

export class SimulatorError extends HsvError<SimulatorErrorCode> {}

/** One group of simulated devices: a profile, how many, and (optionally) their trust root. */
export interface FleetEntry {
  profile: DeviceProfile;
  count: number;
  /** default: FleetOptions.trustRoot. tpm devices are named <profile>-tpm-<n> */
  trustRoot?: TrustRoot;
}

export interface FleetOptions {
  /** profile -> count ({healthy: 3, compromised: 1}) or a list of {profile, count, trustRoot?} */
  profiles?: Partial<Record<DeviceProfile, number>> | FleetEntry[];
  /** the same as `profiles` (the CLI's parsed --fleet); one of the two is required */
  fleet?: FleetEntry[];
  /**
   * what signs the devices' evidence (default software-key: a P-256 key the simulator makes); tpm: a swtpm
   * per device (swtpm + tpm2-tools, scripts/install-peers.sh) with an ECC attestation key, quotes over the
   * nonce and the TCG event log (docs/evidence-formats.md). Per entry: FleetEntry.trustRoot.
   */
  trustRoot?: TrustRoot;
  /** the TPM attestation key's type (default ecc) */
  tpmKeyType?: 'ecc' | 'rsa';
  /**
   * manufacture each new swtpm with an EK certificate from this local CA directory (swtpm_localca; its
   * swtpm-localca-rootca-cert.pem is the manufacturer CA a PVE trusts): the devices then list ekCertificate,
   * ekIntermediates and ekPublic
   */
  tpmEkCa?: string;
  /**
   * SSH login of the devices. Default: user 'oam' with ONE random password for the whole fleet (kept in
   * DATA_DIR/credentials.json), so an OAM config can name it once; with perDeviceCredentials every device
   * gets its own password (DATA_DIR/<henb-id>/credentials.json).
   */
  username?: string;
  password?: string;
  perDeviceCredentials?: boolean;
  /** address to listen on (default 127.0.0.1) */
  host?: string;
  /**
   * several addresses to listen on (e.g. 127.0.1.1, 127.0.1.2, ...: Linux routes all of 127.0.0.0/8 to lo), for
   * fleets larger than one address has ports: device i listens on hosts[i % hosts.length], at basePort +
   * floor(i / hosts.length) when basePort is set. Replaces `host`.
   */
  hosts?: string[];
  /** 0 (default): free ports; otherwise device i listens on basePort + i (with `hosts`: see there) */
  basePort?: number;
  /**
   * the number of each profile's first device (default 1: healthy-1, healthy-2, ...): fleets started in several
   * processes (one process has too few file descriptors for 100,000 devices) name their devices apart
   */
  firstIndex?: number;
  /** keeps each device's host key, device key, credentials and event log; default a temporary dir removed at close */
  dataDir?: string;
  /** install duration, ms (default 50) */
  installMs?: number;
  /** install duration of `slow` devices, ms (default 600000) */
  slowInstallMs?: number;
  /** rollback (reboot) duration, ms (default 10) */
  rollbackMs?: number;
  /**
   * devices fetch the image from the software-update uri and check its SHA-256 against software-rim
   * before installing (download-error / integrity-error otherwise). Default false: the uri is not read.
   */
  fetchSoftware?: boolean | { fileRoot?: string; caPem?: string; timeoutMs?: number };
  /** what `unreachable` devices do with a connection (default 'refuse') */
  unreachableMode?: 'refuse' | 'blackhole';
  /** validate RPC input/output and notifications against the device YANG module (default true) */
  validate?: boolean;
  /** keep an event log per device so subscriptions can replay (default true) */
  replay?: boolean;
  /**
   * NETCONF Call Home (RFC 8071): every device (but `unreachable` ones, which never call) connects out to each
   * of these NETCONF clients and serves NETCONF over SSH on the connection, calling again with a jittered
   * backoff when it drops. The devices still listen on their own ports too.
   */
  callHome?: CallHomeTarget[];
  callHomeBackoff?: CallHomeBackoff;
  /**
   * NETCONF over TLS (RFC 7589) besides SSH: each device listens on a TLS port too (free ports, or tlsBasePort + i)
   * with its certificate from the fleet CA (DATA_DIR/tls); clients authenticate with the fleet's client
   * certificate (DATA_DIR/tls/client.pem), or with any certificate issued by `clientCa` (PEM), mapped to the
   * device's user. Implied by a call-home target with transport tls.
   */
  tls?: boolean | { clientCa?: string; tlsBasePort?: number };
  log?: Logger;
}

/** where simulated devices call home, and how: SSH (RFC 8071 section 3.1, default) or TLS (section 4) */
export interface CallHomeTarget {
  host: string;
  port: number;
  transport?: 'ssh' | 'tls';
}

/** How to reach a simulated device over TLS (SimulatedDevice.netconfTls). */
export interface SimulatedDeviceTls {
  /** the device's NETCONF-over-TLS port */
  port: number;
  /** the device certificate's SHA-256 (hex with colons): what an inventory may pin */
  certSha256: string;
  /** the name in the device's certificate (its henb-id) */
  serverName: string;
  /** PEM files: the fleet CA (the devices' certificates chain to it), and the client certificate and key the devices accept */
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** What an OAM / PVE inventory needs to reach one simulated device. */
export interface SimulatedDevice {
  henbId: string;
  profile: DeviceProfile;
  host: string;
  port: number;
  /** the SSH host key fingerprint to pin, as OpenSSH prints it: 'SHA256:<base64>' */
  hostKeySha256: string;
  username: string;
  password: string;
  /** the device's evidence key (ECDSA P-256), SPKI PEM */
  devicePublicKey: string;
  /** RFC 7638 thumbprint of the device key */
  keyId: string;
  /** what signs this device's evidence */
  trustRoot: TrustRoot;
  /** tpm: the attestation key as TPM2B_PUBLIC, base64 (what the PVE enrolls) */
  akPublic?: string;
  /** tpm: the AK's TPM Name, hex */
  akName?: string;
  /** tpm with FleetOptions.tpmEkCa: the EK certificate (DER, base64), the local CA's issuer (PEM), the EK (TPM2B_PUBLIC, base64) */
  ekCertificate?: string;
  ekIntermediates?: string[];
  ekPublic?: string;
  /** the device calls home (FleetOptions.callHome): an inventory reaches it through its call-home listener */
  callHome?: boolean;
  /** the device calls home over TLS (a target with transport tls) */
  callHomeTransport?: 'ssh' | 'tls';
  /** NETCONF over TLS (FleetOptions.tls): its port, certificate and the PEM files a client needs */
  netconfTls?: SimulatedDeviceTls;
}

export interface Fleet {
  devices: SimulatedDevice[];
  /** the reference values of the factory firmware (what the PVE needs) */
  referenceValues: ReferenceValues;
  /** the model behind a device (tests and the demo may look inside) */
  cell(henbId: string): Femtocell | undefined;
  /** the TPM behind a tpm device (tests: e.g. its TCTI, to extend a PCR the way malware would) */
  tpm(henbId: string): TpmAttester | undefined;
  /** end every NETCONF session of one device (the server keeps listening): a network blip, for tests */
  dropSessions(henbId: string): Promise<void>;
  /** NETCONF sessions open on the device now, as the device counts them (tests: what a client holds open) */
  sessionCount(henbId: string): number;
  /** NETCONF sessions opened on the device since it started (RFC 6022 in-sessions; tests: sessions per update) */
  sessionsOpened(henbId: string): number;
  /** cut the device's call-home TCP connections (a NAT timeout, for tests); it calls again after its backoff */
  dropCallHome(henbId: string): void;
  /**
   * every device (but `unreachable` ones) starts calling these NETCONF clients too (FleetOptions.callHome, later);
   * the returned stop() ends these calls (loops and connections) only, e.g. a client that listened on port 0 for one run
   */
  startCallHome(targets: CallHomeTarget[]): () => Promise<void>;
  /** the fleet's TLS material (FleetOptions.tls): the CA and the client certificate the devices accept */
  readonly tls?: FleetPki;
  /** stop every server and pending install; removes a temporary data dir. Idempotent. */
  close(): Promise<void>;
}

function packageRootOrThrow(): string {
  const root = packageRoot();
  if (root === undefined) throw new SimulatorError('ERR_SIM_YANG', 'cannot find the package root (for yang/)');
  return root;
}

let deviceYang: { module: YangModuleInfo; validator: YangValidator } | undefined;
/** The device module (for hello/get-schema) and a validator for it, compiled once per process. */
export function deviceYangModule(): { module: YangModuleInfo; validator: YangValidator } {
  if (deviceYang) return deviceYang;
  const dir = join(packageRootOrThrow(), 'yang');
  const files = [join(dir, `${DEVICE_MODULE}.yang`), join(dir, 'ietf', 'ietf-inet-types@2013-07-15.yang'), join(dir, 'ietf', 'ietf-yang-types@2013-07-15.yang')];
  let texts: Array<{ file: string; text: string }>;
  try {
    texts = files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  } catch (e) {
    throw new SimulatorError('ERR_SIM_YANG', `cannot read the device YANG module in ${dir}`, { cause: e });
  }
  const loaded = compileTexts(texts);
  const module = loaded.modules.find((m) => m.name === DEVICE_MODULE);
  if (!module) throw new SimulatorError('ERR_SIM_YANG', `${DEVICE_MODULE} did not compile`);
  deviceYang = { module, validator: loaded.validator };
  return deviceYang;
}

/** the namespace flaw-wrong-namespace announces (a vendor's copy of the module under its own namespace) */
export const WRONG_DEVICE_NS = 'urn:example:vendor:yang:henb-sw-verify-device';

/** flaw-wrong-namespace: the device module as announced and served by get-schema with WRONG_DEVICE_NS */
function wrongNamespaceModule(): YangModuleInfo {
  const m = deviceYangModule().module;
  return { ...m, namespace: WRONG_DEVICE_NS, text: m.text.replace(`namespace "${m.namespace}";`, `namespace "${WRONG_DEVICE_NS}";`) };
}

function entries(p: NonNullable<FleetOptions['profiles']>, trustRoot: TrustRoot): Array<Required<FleetEntry>> {
  const list: FleetEntry[] = Array.isArray(p) ? p : Object.entries(p).map(([profile, count]) => ({ profile: profile as DeviceProfile, count: count ?? 0 }));
  for (const e of list) {
    if (!(PROFILES as readonly string[]).includes(e.profile)) throw new SimulatorError('ERR_SIM_PROFILE', `unknown profile ${e.profile}; use ${PROFILES.join(', ')}`);
    if (!Number.isInteger(e.count) || e.count < 0) throw new SimulatorError('ERR_SIM_PROFILE', `count of ${e.profile} must be a whole number >= 0`);
    if (e.trustRoot !== undefined && !isTrustRoot(e.trustRoot)) throw new SimulatorError('ERR_SIM_PROFILE', `trust root of ${e.profile} must be software-key or tpm`);
  }
  return list.filter((e) => e.count > 0).map((e) => ({ profile: e.profile, count: e.count, trustRoot: e.trustRoot ?? trustRoot }));
}

/** The device name of the i-th (from 1) device of an entry: <profile>-<i>, <profile>-tpm-<i> for tpm devices. */
export function simulatedHenbId(profile: DeviceProfile, trustRoot: TrustRoot, i: number): string {
  return trustRoot === 'tpm' ? `${profile}-tpm-${i}` : `${profile}-${i}`;
}

interface Persisted {
  username: string;
  password: string;
  key: KeyObject;
}

async function loadOrCreateCredentials(dir: string, username: string): Promise<{ username: string; password: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const credFile = join(dir, 'credentials.json');
  try {
    const c = JSON.parse(await readFile(credFile, 'utf8')) as { username?: unknown; password?: unknown };
    if (typeof c.username === 'string' && typeof c.password === 'string') return { username: c.username, password: c.password };
  } catch {
    // created below
  }
  const cred = { username, password: randomBytes(12).toString('base64url') };
  await writeFile(credFile, JSON.stringify(cred) + '\n', { mode: 0o600 });
  return cred;
}

async function loadOrCreateIdentity(dir: string, shared: { username: string; password: string } | undefined, username: string): Promise<Persisted> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'device-key.pem');
  const cred = shared ?? (await loadOrCreateCredentials(dir, username));
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(keyFile, 'utf8'));
  } catch {
    key = generatePrivateKey('P-256');
    await writeFile(keyFile, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return { username: cred.username, password: cred.password, key };
}

const URI_SCHEME = /^(file|https?):/i;
const JOB_ID = /^[0-9A-Za-z][-.0-9:A-Z_a-z]*$/;

function rpcError(tag: RpcErrorInfo['tag'], appTag: string | undefined, message: string): NetconfError {
  const e: RpcErrorInfo = { type: 'application', tag, message };
  if (appTag !== undefined) e.appTag = appTag;
  return new NetconfError(e);
}

function completionEvent(c: Completion): Parameters<typeof completionXml>[0] {
  const ev: Parameters<typeof completionXml>[0] = {
    jobId: c.jobId, status: c.status, tim: c.tim, log: c.measurementLog, selfCheck: c.selfCheck,
  };
  if (c.softwareVersion !== undefined) ev.softwareVersion = c.softwareVersion;
  if (c.reason !== undefined) ev.reason = c.reason;
  if (c.evidence !== undefined) ev.evidence = { ...c.evidence };
  return ev;
}

/**
 * A completion whose evidence is a TPM quote instead of the software key's signature: the quote's qualifying
 * data is SHA-256 of the same completion statement (src/integrity/evidence.ts completionMessage), so the quote
 * belongs to this completion only.
 */
async function tpmCompletion(c: Completion, tpm: TpmTrustRoot): Promise<Parameters<typeof completionXml>[0]> {
  const ev = completionEvent(c);
  if (c.evidence === undefined || c.tim === undefined || c.measurementLog === undefined) return ev;
  const statement = completionMessage({
    henbId: c.henbId, jobId: c.jobId, nonce: Buffer.from(c.evidence.nonce, 'base64'), status: c.status, selfCheck: c.selfCheck,
    ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}), tim: c.tim, log: c.measurementLog,
  });
  const t = await tpm.quote(c.measurementLog, createHash('sha256').update(statement).digest());
  ev.evidence = {
    format: 'tpm2-quote', nonce: c.evidence.nonce, signatureAlgorithm: tpm.signatureAlgorithm, keyId: t.certificateName,
    signature: t.signature, quote: t.quote, eventLog: t.eventLog, tpm: t,
  };
  return ev;
}

/**
 * The device module's attestation-key state: the key that signs this device's evidence (the software key's SPKI
 * and RFC 7638 thumbprint, or the TPM AK's TPM2B_PUBLIC and Name). flaw-key-id-mismatch names a tpm device's AK
 * with its last Name octet changed; flaw-foreign-key presents another key for software-key devices only (a
 * simulated TPM has one AK).
 */
function presentedKey(cell: Femtocell, tpm: TpmTrustRoot | undefined): AttestationKey {
  if (tpm !== undefined) {
    const name = Buffer.from(tpm.akName, 'hex');
    if (cell.profile === 'flaw-key-id-mismatch') name[name.length - 1] = (name[name.length - 1] ?? 0) ^ 0xff;
    return { format: 'tpm2-quote', signatureAlgorithm: tpm.signatureAlgorithm, keyId: name.toString('hex'), publicKey: tpm.akPublic().toString('base64') };
  }
  const k = cell.presentedKey();
  return { format: 'software-key', signatureAlgorithm: 'ES256', keyId: k.keyId, publicKey: k.spki.toString('base64') };
}

/** software-update: the job starts in the background (a duplicate job-id is refused in the reply, a busy slot is in-use) */
function softwareUpdateRpc(cell: Femtocell, log: Logger, op: XmlElement): XmlElement[] {
  const req = parseSoftwareUpdate(op);
  if (!JOB_ID.test(req.jobId) || req.jobId.length > 64) throw rpcError('invalid-value', undefined, 'job-id is not a job id');
  if (!URI_SCHEME.test(req.uri)) throw rpcError('invalid-value', 'unsupported-uri-scheme', 'the uri scheme must be file, http or https');
  try {
    cell.startUpdate(req);
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    if (e.code === 'ERR_DEVICE_BUSY') throw rpcError('in-use', 'slot-busy', e.message);
    if (e.code === 'ERR_DEVICE_DUPLICATE_JOB') return startedReplyXml({ status: 'refused', reason: e.message });
    if (e.code === 'ERR_DEVICE_BAD_NONCE') throw rpcError('invalid-value', undefined, e.message);
    throw rpcError('invalid-value', undefined, e.message);
  }
  log.info('software-update started', { jobId: req.jobId });
  return startedReplyXml({ status: 'started' });
}

/** integrity-measurement: the TIM and its log, signed over the verifier's nonce (by the software key, or quoted by the TPM) */
async function measurementRpc(cell: Femtocell, log: Logger, tpm: TpmTrustRoot | undefined, op: XmlElement): Promise<XmlElement[]> {
  const nonce = parseIntegrityMeasurement(op);
  if (!nonce || nonce.length < 16 || nonce.length > 64) throw rpcError('invalid-value', undefined, 'nonce-value must be base64 of 16..64 octets');
  const version = cell.runningVersion();
  if (tpm !== undefined) {
    // the TPM answers: a quote over the verifier's nonce and the event log behind PCR 9
    const measured = cell.measurementLog();
    const tim = cell.tim();
    let t;
    try {
      t = await tpm.quote(measured, nonce);
    } catch (e) {
      log.error('TPM quote failed', { err: e });
      throw rpcError('operation-failed', undefined, 'the TPM could not quote');
    }
    return measurementReplyXml({
      format: 'tpm2-quote', tim, log: measured, signatureAlgorithm: tpm.signatureAlgorithm, keyId: t.certificateName, signature: '', tpm: t,
      ...(version !== undefined ? { softwareVersion: version } : {}),
    });
  }
  const ev = cell.measure(nonce);
  return measurementReplyXml({
    format: 'software-key', tim: ev.tim, log: ev.log, signatureAlgorithm: 'ES256', keyId: cell.keyId(), signature: ev.signature,
    ...(version !== undefined ? { softwareVersion: version } : {}),
  });
}

/** activate-credential: TPM2_ActivateCredential with the AK and the EK, the verifier's proof that the AK lives in this TPM */
async function activateCredentialRpc(log: Logger, tpm: TpmTrustRoot | undefined, op: XmlElement): Promise<XmlElement[]> {
  if (tpm === undefined) throw rpcError('operation-not-supported', 'no-tpm', 'this device has no TPM (trust root software-key)');
  const c = parseActivateCredential(op);
  if (c === undefined) throw rpcError('invalid-value', undefined, 'credential-blob and encrypted-secret must be base64 (endorsement-key rsa or ecc)');
  try {
    return activateCredentialReplyXml({ secret: await tpm.activateCredential(c), certificateName: tpm.akName });
  } catch (e) {
    log.warn('TPM2_ActivateCredential refused', { err: e });
    throw rpcError('operation-failed', 'credential-refused', 'the TPM did not release the credential (not made for this attestation key and endorsement key)');
  }
}

/** rollback: back to the slot that ran before the job (busy, unknown job, no slot to go back to: refused) */
function rollbackRpc(cell: Femtocell, log: Logger, op: XmlElement): XmlElement[] {
  const { jobId } = parseRollback(op);
  try {
    cell.rollback(jobId);
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    if (e.code === 'ERR_DEVICE_BUSY') throw rpcError('in-use', 'slot-busy', e.message);
    if (e.code === 'ERR_DEVICE_JOB_UNKNOWN') throw rpcError('invalid-value', 'job-unknown', e.message);
    if (e.code === 'ERR_DEVICE_NO_ROLLBACK') throw rpcError('operation-failed', 'no-rollback-slot', e.message);
    throw rpcError('operation-failed', undefined, e.message);
  }
  log.info('rollback started', { jobId });
  return startedReplyXml({ status: 'started' });
}

/** software-update-complete notifications, in the order they happened, even when a TPM quote makes one of them wait */
function sendCompletions(server: NetconfServer, cell: Femtocell, log: Logger, tpm: TpmTrustRoot | undefined): void {
  let sending: Promise<unknown> = Promise.resolve();
  cell.onCompletion((c) => {
    log.info('software-update-complete', { jobId: c.jobId, kind: c.kind, status: c.status, tim: c.tim });
    sending = sending.then(async () => {
      const ev = tpm !== undefined ? await tpmCompletion(c, tpm) : completionEvent(c);
      await server.registry.notify('NETCONF', completionXml(ev));
    }).catch((e: unknown) => log.error('completion notification failed', { err: e }));
  });
}

/** Register the device module's RPCs, state and notifications for one femtocell on a NETCONF server. */
export function registerFemtocell(server: NetconfServer, cell: Femtocell, log: Logger, tpm?: TpmTrustRoot): void {
  const reg = server.registry;
  reg.addModule(cell.profile === 'flaw-wrong-namespace' ? wrongNamespaceModule() : deviceYangModule().module);
  reg.addRpc(DEVICE_NS, 'software-update', async (op) => softwareUpdateRpc(cell, log, op));
  reg.addRpc(DEVICE_NS, 'integrity-measurement', (op) => measurementRpc(cell, log, tpm, op));
  reg.addRpc(DEVICE_NS, 'activate-credential', (op) => activateCredentialRpc(log, tpm, op));
  reg.addRpc(DEVICE_NS, 'rollback', async (op) => rollbackRpc(cell, log, op));
  reg.addState(DEVICE_NS, 'software-slots', () => slotsXml(cell.slots()));
  reg.addState(DEVICE_NS, 'integrity', () => integrityStateXml(cell.tim(), cell.measurementLog()));
  reg.addState(DEVICE_NS, 'attestation-key', () => attestationKeyXml(presentedKey(cell, tpm)));
  sendCompletions(server, cell, log, tpm);
}

/** the transport of the call-home targets (TLS when any target is TLS: a device entry names one) */
function callHomeTransportOf(targets: CallHomeTarget[]): 'ssh' | 'tls' {
  return targets.some((t) => t.transport === 'tls') ? 'tls' : 'ssh';
}

/** one device of the fleet as planned: its name, profile, trust root and where it listens */
export interface PlannedDevice {
  henbId: string;
  profile: DeviceProfile;
  trustRoot: TrustRoot;
  /** its place in the fleet, from 0 */
  index: number;
  host: string;
  /** 0: a free port */
  port: number;
}

/**
 * The devices a fleet's options name, in order: each entry's profile and count (ERR_SIM_PROFILE for an unknown
 * profile, a bad count, no device, a bad firstIndex, a name twice), device i on hosts[i % hosts.length] at
 * basePort + floor(i / hosts.length) (a free port without basePort).
 */
export function fleetPlan(options: FleetOptions): PlannedDevice[] {
  const hosts = options.hosts !== undefined && options.hosts.length > 0 ? options.hosts : [options.host ?? '127.0.0.1'];
  const basePort = options.basePort ?? 0;
  const list = entries(options.profiles ?? options.fleet ?? [], options.trustRoot ?? 'software-key');
  if (list.length === 0) throw new SimulatorError('ERR_SIM_PROFILE', 'the fleet has no devices');
  const first = options.firstIndex ?? 1;
  if (!(Number.isSafeInteger(first) && first >= 1)) throw new SimulatorError('ERR_SIM_PROFILE', `firstIndex must be an integer >= 1, got ${first}`);
  const named = list.flatMap((e) => Array.from({ length: e.count }, (_, i) => ({ henbId: simulatedHenbId(e.profile, e.trustRoot, i + first), profile: e.profile, trustRoot: e.trustRoot })));
  const dup = named.find((p, i) => named.findIndex((q) => q.henbId === p.henbId) !== i);
  if (dup) throw new SimulatorError('ERR_SIM_PROFILE', `the fleet names ${dup.henbId} twice (list each profile once per trust root)`);
  return named.map((p, index) => ({
    ...p, index, host: hosts[index % hosts.length]!, port: basePort === 0 ? 0 : basePort + Math.floor(index / hosts.length),
  }));
}

type ImageFetch = (uri: string, rim: string, signal: AbortSignal) => Promise<void>;

/**
 * How devices fetch the software-update image (FleetOptions.fetchSoftware; none by default): `checked` compares
 * its SHA-256 with software-rim, `unchecked` (flaw-digest-unchecked) fetches the whole image and never compares.
 */
export function imageFetchers(fetchSoftware: FleetOptions['fetchSoftware']): { checked: ImageFetch; unchecked: ImageFetch } | undefined {
  const cfg = fetchSoftware === true ? {} : fetchSoftware === false ? undefined : fetchSoftware;
  if (cfg === undefined) return undefined;
  const fetchOptions = (signal: AbortSignal, expectedDigest?: string): FetchAndDigestOptions => ({
    ...(expectedDigest !== undefined ? { expectedDigest } : {}), signal, timeoutMs: cfg.timeoutMs ?? 60_000,
    ...(cfg.fileRoot !== undefined ? { fileRoot: cfg.fileRoot } : {}),
    ...(cfg.caPem !== undefined ? { caPem: cfg.caPem } : {}),
  });
  return {
    checked: async (uri, rim, signal) => {
      await fetchAndDigest(uri, fetchOptions(signal, rim));
    },
    unchecked: async (uri, _rim, signal) => {
      await fetchAndDigest(uri, fetchOptions(signal));
    },
  };
}

/** the cert-to-name map of a device's TLS server: the fleet's client certificate and any of the extra client CA, to its user */
export function fleetCertToName(pki: FleetPki | undefined, clientCas: X509Certificate[], username: string): CertToNameEntry[] {
  if (pki === undefined) return [];
  return [
    { fingerprint: pki.client.sha256, 'map-type': 'specified', name: username },
    ...clientCas.map((c) => ({ fingerprint: c.fingerprint256, 'map-type': 'specified' as const, name: username })),
  ];
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const log = (options.log ?? silentLogger).child({ component: 'simulator' });
  const plan = fleetPlan(options);
  const tlsOpts = typeof options.tls === 'object' ? options.tls : {};
  const clientCas = tlsOpts.clientCa !== undefined ? certificatesOfPem(tlsOpts.clientCa) : [];
  if (tlsOpts.clientCa !== undefined && clientCas.length === 0) throw new SimulatorError('ERR_SIM_START', 'tls.clientCa holds no PEM certificate');
  const temporary = options.dataDir === undefined;
  const root = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'hsv-fleet-')));
  const username = options.username ?? 'oam';
  let shared: { username: string; password: string } | undefined;
  if (options.password !== undefined) shared = { username, password: options.password };
  else if (options.perDeviceCredentials !== true) shared = await loadOrCreateCredentials(root, username);
  const fleet = new FleetRuntime({ options, log, root, temporary, shared, username, tlsOpts, clientCas });
  const devices: SimulatedDevice[] = [];
  try {
    await fleet.loadPki();
    // start in batches: bounded parallelism, ports in order when basePort is set
    const BATCH = 32;
    for (let b = 0; b < plan.length; b += BATCH) devices.push(...await Promise.all(plan.slice(b, b + BATCH).map((p) => fleet.startDevice(p))));
  } catch (e) {
    await fleet.close();
    throw e instanceof HsvError ? e : new SimulatorError('ERR_SIM_START', `cannot start the fleet: ${(e as Error).message}`, { cause: e });
  }
  if (options.callHome !== undefined) fleet.startCallHome(options.callHome);
  log.info('fleet started', { devices: devices.length });
  return fleet.handle(devices);
}

interface FleetSettings {
  options: FleetOptions;
  log: Logger;
  /** the data dir (each device in <root>/<henb-id>) and whether it is removed at close */
  root: string;
  temporary: boolean;
  /** the fleet's one login (undefined: per device) */
  shared: { username: string; password: string } | undefined;
  username: string;
  tlsOpts: { clientCa?: string; tlsBasePort?: number };
  clientCas: X509Certificate[];
}

/** A running fleet: its devices' models, TPMs, servers and call-home loops, and closing them all. */
class FleetRuntime {
  private readonly cells = new Map<string, Femtocell>();
  private readonly tpms = new Map<string, TpmTrustRoot>();
  private readonly servers: NetconfServer[] = [];
  private readonly serverOf = new Map<string, NetconfServer>();
  private readonly blackholes: Array<{ server: TcpServer; sockets: Set<Socket> }> = [];
  private readonly callHomeStop = new AbortController();
  private readonly callHomeLoops: Array<Promise<void>> = [];
  private readonly callHomeSockets = new Map<string, Set<Socket>>();
  /** per device that can call: start calling one more client */
  private readonly callers: Array<(to: CallHomeTarget, signal: AbortSignal) => Promise<void> | undefined> = [];
  private readonly fetchers: ReturnType<typeof imageFetchers>;
  private readonly yang = deviceYangModule();
  private pki: FleetPki | undefined;
  private closed = false;

  constructor(private readonly s: FleetSettings) {
    this.fetchers = imageFetchers(s.options.fetchSoftware);
  }

  /** the fleet CA and client certificate, when devices serve TLS or call home over it */
  async loadPki(): Promise<void> {
    const o = this.s.options;
    const tlsWanted = o.tls !== undefined && o.tls !== false || (o.callHome ?? []).some((t) => t.transport === 'tls');
    if (tlsWanted) this.pki = await loadOrCreateFleetPki(join(this.s.root, 'tls'));
  }

  async startDevice(p: PlannedDevice): Promise<SimulatedDevice> {
    const { henbId, profile, trustRoot } = p;
    const o = this.s.options;
    const dir = join(this.s.root, henbId);
    const id = await loadOrCreateIdentity(dir, this.s.shared, this.s.username);
    const hostKey = await loadOrCreateDeviceHostKey(dir);
    const dlog = this.s.log.child({ henbId });
    const cell = new Femtocell({
      henbId, profile, privateKey: id.key,
      ...(this.fetchers !== undefined ? { fetchImage: profile === 'flaw-digest-unchecked' ? this.fetchers.unchecked : this.fetchers.checked } : {}),
      ...(o.installMs !== undefined ? { installMs: o.installMs } : {}),
      ...(o.slowInstallMs !== undefined ? { slowInstallMs: o.slowInstallMs } : {}),
      ...(o.rollbackMs !== undefined ? { rollbackMs: o.rollbackMs } : {}),
    });
    this.cells.set(henbId, cell);
    let tpm: TpmTrustRoot | undefined;
    if (trustRoot === 'tpm' && profile !== 'unreachable') {
      tpm = await TpmTrustRoot.start(dir, cell.measurementLog(), o.tpmKeyType ?? 'ecc', o.tpmEkCa);
      this.tpms.set(henbId, tpm);
    }
    const served = profile === 'unreachable' ? { port: await this.listenUnreachable(p) } : await this.serveDevice(p, { dir, id, hostKey, cell, tpm, dlog });
    return {
      henbId, profile, host: p.host, port: served.port, hostKeySha256: hostKeyFingerprint(hostKey),
      username: id.username, password: id.password, devicePublicKey: cell.publicKeyPem(), keyId: cell.keyId(), trustRoot,
      ...(tpm !== undefined ? { akPublic: tpm.akPublic().toString('base64'), akName: tpm.akName, ...tpm.ekEnrolment() } : {}),
      ...(o.callHome !== undefined && o.callHome.length > 0 ? { callHome: true, callHomeTransport: callHomeTransportOf(o.callHome) } : {}),
      ...('tls' in served && served.tls !== undefined ? { netconfTls: served.tls } : {}),
    };
  }

  /** an `unreachable` device: a port that refuses every connection, or (blackhole) holds it without a byte */
  private async listenUnreachable(p: PlannedDevice): Promise<number> {
    const sockets = new Set<Socket>();
    const mode = this.s.options.unreachableMode ?? 'refuse';
    const tcp = createTcpServer((sock) => {
      if (mode === 'refuse') {
        sock.destroy();
        return;
      }
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
    });
    this.blackholes.push({ server: tcp, sockets });
    return new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(p.port, p.host, () => resolve((tcp.address() as { port: number }).port));
    });
  }

  /** the device's NETCONF server (SSH, and TLS with the fleet PKI) with the femtocell's module, and its call-home caller */
  private async serveDevice(p: PlannedDevice, d: {
    dir: string; id: Persisted; hostKey: string; cell: Femtocell; tpm: TpmTrustRoot | undefined; dlog: Logger;
  }): Promise<{ port: number; tls?: SimulatedDeviceTls }> {
    const { pki } = this;
    const deviceCert = pki !== undefined ? await loadOrCreateDeviceCert(d.dir, p.henbId, p.host, pki.ca) : undefined;
    const server = this.deviceServer(p, d, deviceCert);
    this.servers.push(server);
    this.serverOf.set(p.henbId, server);
    registerFemtocell(server, d.cell, d.dlog, d.tpm);
    const port = (await server.listen(p.host, p.port)).port;
    let tls: SimulatedDeviceTls | undefined;
    if (pki !== undefined && deviceCert !== undefined) {
      const tlsBasePort = this.s.tlsOpts.tlsBasePort;
      const tlsPort = (await server.listenTls(p.host, tlsBasePort !== undefined ? tlsBasePort + p.index : 0)).port;
      tls = {
        port: tlsPort, certSha256: deviceCert.sha256, serverName: p.henbId,
        caFile: pki.ca.certFile, clientCertFile: pki.client.certFile, clientKeyFile: pki.client.keyFile,
      };
    }
    this.callers.push(this.callerFor(p.henbId, server, d.dlog));
    return tls !== undefined ? { port, tls } : { port };
  }

  private deviceServer(p: PlannedDevice, d: { dir: string; id: Persisted; hostKey: string; dlog: Logger }, deviceCert: { cert: string; key: string } | undefined): NetconfServer {
    const { pki } = this;
    const o = this.s.options;
    return createNetconfServer({
      hostKeys: [d.hostKey],
      ...(pki !== undefined && deviceCert !== undefined ? {
        tls: { cert: deviceCert.cert, key: deviceCert.key, ca: pki.ca.cert + (this.s.tlsOpts.clientCa ?? ''), certToName: fleetCertToName(pki, this.s.clientCas, d.id.username) },
      } : {}),
      auth: { users: [{ username: d.id.username, password: d.id.password }] },
      ...(o.validate !== false ? { validator: this.yang.validator } : {}),
      log: d.dlog,
      dataDir: d.dir,
      operations: [(reg) => registerStandardOperations(reg, {
        log: d.dlog, ...(o.replay === false || p.profile === 'flaw-no-replay' ? { eventLog: false as const } : {}),
      })],
    });
  }

  /** the device's call-home starter: one loop per client it calls, serving NETCONF on each connection it makes */
  private callerFor(henbId: string, server: NetconfServer, dlog: Logger): (to: CallHomeTarget, signal: AbortSignal) => Promise<void> | undefined {
    return (to, signal) => {
      if (to.transport === 'tls' && this.pki === undefined) {
        dlog.error('call home over TLS needs the fleet started with tls', { to: `${to.host}:${to.port}` });
        return undefined;
      }
      const mine = this.callHomeSockets.get(henbId) ?? new Set<Socket>();
      this.callHomeSockets.set(henbId, mine);
      const loop = callHomeLoop({
        host: to.host, port: to.port, serve: (sock) => server.callHome(sock, to.transport ?? 'ssh'), log: dlog, signal,
        ...(this.s.options.callHomeBackoff !== undefined ? { backoff: this.s.options.callHomeBackoff } : {}),
        onConnected: (sock) => {
          mine.add(sock);
          sock.once('close', () => mine.delete(sock));
        },
      });
      this.callHomeLoops.push(loop);
      return loop;
    };
  }

  startCallHome(targets: CallHomeTarget[]): () => Promise<void> {
    if (this.closed) return async () => undefined;
    // these calls end with the fleet, or on stop()
    const stop = new AbortController();
    const onClose = (): void => stop.abort();
    this.callHomeStop.signal.addEventListener('abort', onClose, { once: true });
    const loops: Array<Promise<void>> = [];
    for (const to of targets) {
      for (const call of this.callers) {
        const loop = call(to, stop.signal);
        if (loop !== undefined) loops.push(loop);
      }
    }
    return async () => {
      this.callHomeStop.signal.removeEventListener('abort', onClose);
      stop.abort();
      await Promise.all(loops);
    };
  }

  /** the Fleet handed to the caller */
  handle(devices: SimulatedDevice[]): Fleet {
    return {
      devices,
      referenceValues: factoryReferenceValues(),
      cell: (henbId) => this.cells.get(henbId),
      tpm: (henbId) => this.tpms.get(henbId)?.attester,
      dropSessions: async (henbId) => {
        const server = this.serverOf.get(henbId);
        if (!server) return;
        await Promise.all(server.sessions().map((s) => server.info.killSession(s.id, 'simulated network failure')));
      },
      sessionCount: (henbId) => this.serverOf.get(henbId)?.sessions().length ?? 0,
      sessionsOpened: (henbId) => this.serverOf.get(henbId)?.info.counters.inSessions ?? 0,
      startCallHome: (targets) => {
        const stop = this.startCallHome(targets);
        for (const d of devices) {
          d.callHome = true;
          d.callHomeTransport = callHomeTransportOf(targets);
        }
        return stop;
      },
      ...(this.pki !== undefined ? { tls: this.pki } : {}),
      dropCallHome: (henbId) => {
        for (const sock of this.callHomeSockets.get(henbId) ?? []) sock.destroy();
      },
      close: () => this.close(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { log } = this.s;
    this.callHomeStop.abort();
    await Promise.all(this.callHomeLoops);
    for (const c of this.cells.values()) c.close();
    await Promise.all(this.servers.map((srv) => srv.close().catch((e: unknown) => log.warn('device server close failed', { err: e }))));
    await Promise.all([...this.tpms.values()].map((t) => t.close().catch((e: unknown) => log.warn('swtpm close failed', { err: e }))));
    await Promise.all(this.blackholes.map((b) => new Promise<void>((resolve) => {
      for (const sock of b.sockets) sock.destroy();
      b.server.close(() => resolve());
    })));
    if (this.s.temporary) await rm(this.s.root, { recursive: true, force: true });
  }
}
