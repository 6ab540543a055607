/**
 * `henb-sw-verify pve --listen HOST:PORT --data-dir DIR [--devices FILE]` (options and help in
 * src/cli/commands/pve.ts): start the reference PVE, write DIR/jwks.json, print one ready line (JSON with
 * --json), serve until the context's signal is aborted, close and return the exit code.
 *
 * The devices file (YAML or JSON) is either the output of `henb-sw-verify simulate --json` as it is, or:
 *   reference-values: { <component>: [<sha256 hex>, ...], ... }   (default: the simulator's factory values)
 *   devices:
 *     - henb-id: healthy-1
 *       host: 127.0.0.1            (or address; not for a call-home device)
 *       port: 4830
 *       call-home: true            (the device calls the PVE's --call-home-listen port; host-key required)
 *       username: oam
 *       password: secret           (or password-env: NAME)
 *       host-key: SHA256:...       (pinned SSH host key fingerprint)
 *       device-public-key: |       (SPKI PEM; or device-public-key-file: PATH)
 *         -----BEGIN PUBLIC KEY-----
 *       transport: tls             (NETCONF over TLS, RFC 7589; port is then the TLS port; no username/password needed)
 *       tls:                       (transport tls; file names relative to the devices file)
 *         ca-file: FILE            (the CA the device's certificate chains to) and/or
 *         certificate: SHA-256     (its pinned certificate, hex, colons allowed)
 *         server-name: NAME        (the name its certificate carries; default the host, or the henb-id when calling home)
 *         client-cert-file: FILE   (the PVE's client certificate and key, which the device maps to a user)
 *         client-key-file: FILE
 *       trust-root: tpm            (software-key by default; tpm: only quotes by the AK below are accepted)
 *       ak-public: <base64>        (the TPM attestation key, TPM2B_PUBLIC; or ak-public-file: PATH to the
 *                                   binary file `tpm2_readpublic -c AK -f tss -o PATH` writes)
 *   approved-software: [DIR-or-FILE, ...]   (images whose SHA-256 is accepted for rootfs)
 *   netconf: { listen: HOST:PORT, users: [{ username, password | password-env }] }   (also serve NETCONF)
 *   oam-jwks: FILE            (the OAM's JWKS: the only keys whose provide-reference-values statements are accepted;
 *                              stat'ed at each statement and read again when it changed, so the OAM's key rotation is
 *                              picked up; a broken change keeps the last good keys; --oam-jwks overrides)
 *   oam-issuer: NAME          (iss of the OAM's statements, default urn:henb-sw-verify:oam)
 *   ek-ca: [FILE, ...]        (TPM manufacturer CAs, PEM: every trust-root tpm device then needs ek-certificate
 *                              (base64 DER or PEM; or ek-certificate-file) chaining to one of them, optionally with
 *                              ek-intermediates (PEM list) and ek-public / ek-public-file (its EK, TPM2B_PUBLIC))
 * camelCase names (henbId, hostKeySha256, devicePublicKey, trustRoot, akPublic, referenceValues) are accepted too;
 * `simulate --json` output as it is: a device with callHomeTransport tls is reached over TLS with its netconfTls
 * files (and so is any device given `transport: tls` and netconfTls).
 */
import { readFile, writeFile, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { HsvError } from '../errors.js';
import { CliUsageError } from './errors.js';
import { HOST_KEY_FORMS, hostKeyFingerprint } from '../host-key.js';
import { createLogger } from '../log/logger.js';
import { factoryReferenceValues, logLevelOf } from '../simulator/index.js';
import type { CommandContext, ReferenceValues } from '../simulator/index.js';
import { parseListen, startPve } from '../pve/index.js';
import type { PveDeviceEntry } from '../pve/index.js';
import { waitForAbort } from '../abort.js';

/** the `pve --devices FILE` inventory is invalid: the message names the file, the field and what was expected */
export class PveDevicesFileError extends HsvError<'ERR_CONFIG_PVE_DEVICES'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG_PVE_DEVICES', message, options);
  }
}

function configError(file: string, where: string, message: string): PveDevicesFileError {
  return new PveDevicesFileError(`${file}: ${where}: ${message}`);
}

export interface PveDevicesFile {
  devices: PveDeviceEntry[];
  referenceValues: ReferenceValues;
  /** approved-software: files/directories of approved images (paths relative to the file) */
  approvedSoftware: string[];
  /** netconf: also serve integrity-request over NETCONF/SSH */
  netconf?: { listen: string; users: Array<{ username: string; password: string }> };
  /** oam-jwks: the OAM's JWKS file (relative to the devices file) */
  oamJwks?: string;
  oamIssuer?: string;
  /** ek-ca: the TPM manufacturer CAs (PEM texts read from the listed files) */
  ekCa?: string[];
}

async function readOr(file: string, where: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw configError(file, where, `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** a certificate given as PEM, or DER (raw or base64): its DER as base64 */
function derBase64(v: string | Buffer, file: string, where: string): string {
  const text = typeof v === 'string' ? v : v.toString('latin1');
  const pem = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(text);
  if (pem !== null) return pem[1]!.replace(/\s+/g, '');
  if (typeof v !== 'string') return v.toString('base64');
  const b64 = v.replace(/\s+/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64) || b64 === '') throw configError(file, where, 'expected a PEM certificate or base64 DER');
  return b64;
}

/**
 * A TLS device's settings: `tls: {ca-file, certificate, server-name, client-cert-file, client-key-file}`, or the
 * `netconfTls` of `simulate --json` ({port, certSha256, caFile, clientCertFile, clientKeyFile}); files relative to
 * the devices file.
 */
function tlsOfDevice(file: string, at: string, d: Record<string, unknown>): { settings: Promise<NonNullable<PveDeviceEntry['tls']>>; port?: number } {
  const raw = (d.tls ?? d.netconfTls) as Record<string, unknown> | undefined;
  const where = d.tls !== undefined ? `${at}.tls` : `${at}.netconfTls`;
  if (typeof raw !== 'object' || raw === null) throw configError(file, `${at}.tls`, 'transport tls needs tls: {ca-file and/or certificate, client-cert-file, client-key-file}');
  const str = (names: string[]): string | undefined => {
    for (const n of names) {
      const v = raw[n];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v === '') throw configError(file, `${where}.${n}`, 'expected a non-empty string');
      return v;
    }
    return undefined;
  };
  const read = async (name: string, path: string): Promise<string> => {
    try {
      return await readFile(resolve(dirname(file), path), 'utf8');
    } catch (e) {
      throw configError(file, `${where}.${name}`, `cannot read ${path}: ${(e as Error).message}`);
    }
  };
  const caFile = str(['ca-file', 'caFile']);
  const pin = str(['certificate', 'certSha256']);
  const serverName = str(['server-name', 'serverName']);
  const certFile = str(['client-cert-file', 'clientCertFile']);
  const keyFile = str(['client-key-file', 'clientKeyFile']);
  if (caFile === undefined && pin === undefined) throw configError(file, `${where}.ca-file`, 'give the CA of the device\'s certificate (ca-file) or pin the certificate (certificate)');
  if (certFile === undefined || keyFile === undefined) throw configError(file, `${where}.client-cert-file`, 'give the PVE\'s client certificate and key (client-cert-file, client-key-file)');
  const port = typeof raw.port === 'number' ? raw.port : undefined;
  const settings = (async () => ({
    cert: await read('client-cert-file', certFile), key: await read('client-key-file', keyFile),
    ...(caFile !== undefined ? { ca: await read('ca-file', caFile) } : {}),
    ...(pin !== undefined ? { certSha256: pin } : {}),
    ...(serverName !== undefined ? { serverName } : {}),
  }))();
  return { settings, ...(port !== undefined ? { port } : {}) };
}

/** Read and check a devices file; errors name the file, the field and what was expected. */
export async function loadPveDevicesFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<PveDevicesFile> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, 'utf8'));
  } catch (e) {
    throw new PveDevicesFileError(`${file}: cannot read or parse: ${(e as Error).message}`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null) throw configError(file, '(top)', 'expected a mapping with devices');
  const top = doc as Record<string, unknown>;
  const list = top.devices ?? [];
  if (!Array.isArray(list)) throw configError(file, 'devices', 'expected a list');
  const devices: PveDeviceEntry[] = [];
  for (const [i, raw] of list.entries()) devices.push(await deviceEntryOf(file, `devices[${i}]`, raw, env));
  const out: PveDevicesFile = { devices, referenceValues: referenceValuesOf(file, top), approvedSoftware: approvedSoftwareOf(file, top) };
  const oamJwks = top['oam-jwks'] ?? top.oamJwks;
  if (oamJwks !== undefined) {
    if (typeof oamJwks !== 'string' || oamJwks === '') throw configError(file, 'oam-jwks', 'expected the path of the OAM\'s JWKS file');
    out.oamJwks = resolve(dirname(file), oamJwks);
  }
  const ekCa = top['ek-ca'] ?? top.ekCa;
  if (ekCa !== undefined) out.ekCa = await ekCaOf(file, ekCa);
  const oamIssuer = top['oam-issuer'] ?? top.oamIssuer;
  if (oamIssuer !== undefined) {
    if (typeof oamIssuer !== 'string' || oamIssuer === '') throw configError(file, 'oam-issuer', 'expected a non-empty string');
    out.oamIssuer = oamIssuer;
  }
  if (top.netconf !== undefined) out.netconf = netconfOf(file, top.netconf, env);
  return out;
}

/** a reader of one device's string fields: the first of `names` given (a non-empty string), or required */
type FieldReader = (names: string[], required: boolean) => string | undefined;

export function fieldReader(file: string, at: string, d: Record<string, unknown>): FieldReader {
  return (names, required) => {
    for (const n of names) {
      const v = d[n];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length === 0) throw configError(file, `${at}.${n}`, 'expected a non-empty string');
      return v;
    }
    if (required) throw configError(file, `${at}.${names[0]}`, 'is required');
    return undefined;
  };
}

/** one entry of `devices`: name, address or call home, transport, login, pins, evidence keys */
async function deviceEntryOf(file: string, at: string, raw: unknown, env: NodeJS.ProcessEnv): Promise<PveDeviceEntry> {
  if (typeof raw !== 'object' || raw === null) throw configError(file, at, 'expected a mapping');
  const d = raw as Record<string, unknown>;
  const s = fieldReader(file, at, d);
  const henbId = s(['henb-id', 'henbId'], true)!;
  const { host, port, callHome, transport } = reachOf(file, at, d, s);
  const tls = transport === 'tls';
  const entry: PveDeviceEntry = { henbId, host, port, username: s(['username'], !tls) ?? 'oam', devicePublicKey: '' };
  if (callHome) entry.callHome = true;
  if (tls) {
    entry.transport = 'tls';
    const t = tlsOfDevice(file, at, d);
    entry.tls = await t.settings;
    if (t.port !== undefined && !callHome) entry.port = t.port;
  }
  const password = passwordOf(file, at, s, env);
  if (password !== undefined) entry.password = password;
  const hk = s(['host-key', 'hostKeySha256'], callHome && !tls);
  if (hk !== undefined) {
    const fp = hostKeyFingerprint(hk);
    if (fp === undefined) throw configError(file, `${at}.host-key`, `expected ${HOST_KEY_FORMS}`);
    entry.hostKeySha256 = fp;
  }
  entry.devicePublicKey = await devicePublicKeyOf(file, at, s);
  await addTpmEnrolment(file, at, d, s, entry);
  return entry;
}

/**
 * How the PVE reaches the device: host and port (a call-home device is reached on the connection it opens:
 * no address needed), over ssh or tls (`simulate --json`'s callHomeTransport tls means tls)
 */
export function reachOf(file: string, at: string, d: Record<string, unknown>, s: FieldReader): { host: string; port: number; callHome: boolean; transport: 'ssh' | 'tls' | undefined } {
  const ch = d['call-home'] ?? d.callHome;
  if (ch !== undefined && typeof ch !== 'boolean') throw configError(file, `${at}.call-home`, 'expected true or false');
  const callHome = ch === true;
  const host = s(['host', 'address'], !callHome) ?? '';
  const port = d.port ?? (callHome ? 0 : undefined);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (callHome ? 0 : 1) || port > 65535) throw configError(file, `${at}.port`, 'expected a port number 1..65535');
  const transport = d.transport ?? (d.callHomeTransport === 'tls' ? 'tls' : undefined);
  if (transport !== undefined && transport !== 'ssh' && transport !== 'tls') throw configError(file, `${at}.transport`, 'expected ssh or tls');
  return { host, port, callHome, transport };
}

/** password, else the environment variable password-env names (which must be set), else none */
function passwordOf(file: string, at: string, s: FieldReader, env: NodeJS.ProcessEnv): string | undefined {
  const pw = s(['password'], false);
  const pwEnv = s(['password-env'], false);
  if (pw !== undefined) return pw;
  if (pwEnv === undefined) return undefined;
  const v = env[pwEnv];
  if (v === undefined) throw configError(file, `${at}.password-env`, `environment variable ${pwEnv} is not set`);
  return v;
}

/** device-public-key (SPKI PEM) or the file device-public-key-file names (relative to the devices file); required */
async function devicePublicKeyOf(file: string, at: string, s: FieldReader): Promise<string> {
  const pem = s(['device-public-key', 'devicePublicKey'], false);
  const pemFile = s(['device-public-key-file'], false);
  if (pem !== undefined) return pem;
  if (pemFile !== undefined) return readFile(resolve(dirname(file), pemFile), 'utf8');
  throw configError(file, `${at}.device-public-key`, 'is required (SPKI PEM)');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** trust-root, the AK (required with tpm), and the EK certificate, intermediates and public key when given */
async function addTpmEnrolment(file: string, at: string, d: Record<string, unknown>, s: FieldReader, entry: PveDeviceEntry): Promise<void> {
  const trustRoot = s(['trust-root', 'trustRoot'], false);
  if (trustRoot !== undefined && trustRoot !== 'software-key' && trustRoot !== 'tpm') throw configError(file, `${at}.trust-root`, 'expected software-key or tpm');
  const ak = s(['ak-public', 'akPublic'], false);
  const akFile = s(['ak-public-file'], false);
  if (ak !== undefined) {
    if (!BASE64.test(ak.replace(/\s+/g, ''))) throw configError(file, `${at}.ak-public`, 'expected base64 of a TPM2B_PUBLIC');
    entry.akPublic = ak.replace(/\s+/g, '');
  } else if (akFile !== undefined) {
    try {
      entry.akPublic = (await readFile(resolve(dirname(file), akFile))).toString('base64');
    } catch (e) {
      throw configError(file, `${at}.ak-public-file`, `cannot read ${akFile}: ${(e as Error).message}`);
    }
  }
  if (trustRoot === 'tpm' && entry.akPublic === undefined) throw configError(file, `${at}.ak-public`, 'is required with trust-root tpm (the AK\'s TPM2B_PUBLIC)');
  await addEkEnrolment(file, at, d, s, entry);
  if (trustRoot !== undefined) entry.trustRoot = trustRoot;
}

/** the EK certificate (DER base64 or PEM; or a file holding either), its intermediates (PEM list) and the EK public (TPM2B_PUBLIC base64 or file) */
async function addEkEnrolment(file: string, at: string, d: Record<string, unknown>, s: FieldReader, entry: PveDeviceEntry): Promise<void> {
  const ekCert = s(['ek-certificate', 'ekCertificate'], false);
  const ekCertFile = s(['ek-certificate-file'], false);
  const certText = ekCert ?? (ekCertFile !== undefined ? await readOr(file, `${at}.ek-certificate-file`, resolve(dirname(file), ekCertFile)) : undefined);
  if (certText !== undefined) entry.ekCertificate = derBase64(certText, file, `${at}.ek-certificate`);
  const ekPub = s(['ek-public', 'ekPublic'], false);
  const ekPubFile = s(['ek-public-file'], false);
  if (ekPub !== undefined) entry.ekPublic = ekPub.replace(/\s+/g, '');
  else if (ekPubFile !== undefined) entry.ekPublic = (await readOr(file, `${at}.ek-public-file`, resolve(dirname(file), ekPubFile))).toString('base64');
  const inter = d['ek-intermediates'] ?? d.ekIntermediates;
  if (inter !== undefined) {
    if (!Array.isArray(inter) || !inter.every((x) => typeof x === 'string' && x.includes('-----BEGIN CERTIFICATE-----'))) throw configError(file, `${at}.ek-intermediates`, 'expected a list of PEM certificates');
    entry.ekIntermediates = inter as string[];
  }
}

/** reference-values: component -> SHA-256 digests (default: the simulator's factory values) */
export function referenceValuesOf(file: string, top: Record<string, unknown>): ReferenceValues {
  const refRaw = top['reference-values'] ?? top.referenceValues;
  if (refRaw === undefined) return factoryReferenceValues();
  if (typeof refRaw !== 'object' || refRaw === null || Array.isArray(refRaw)) throw configError(file, 'reference-values', 'expected a mapping component -> list of digests');
  const referenceValues: ReferenceValues = {};
  for (const [k, v] of Object.entries(refRaw as Record<string, unknown>)) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x))) {
      throw configError(file, `reference-values.${k}`, 'expected a list of SHA-256 digests (64 lowercase hex)');
    }
    referenceValues[k] = v as string[];
  }
  return referenceValues;
}

/** approved-software: paths of images or directories, made absolute against the devices file */
function approvedSoftwareOf(file: string, top: Record<string, unknown>): string[] {
  const appRaw = top['approved-software'] ?? top.approvedSoftware ?? [];
  if (!Array.isArray(appRaw) || !appRaw.every((x) => typeof x === 'string' && x.length > 0)) {
    throw configError(file, 'approved-software', 'expected a list of file or directory paths');
  }
  return (appRaw as string[]).map((x) => resolve(dirname(file), x));
}

/** ek-ca: the TPM manufacturer CAs, read from the listed PEM files */
async function ekCaOf(file: string, ekCa: unknown): Promise<string[]> {
  if (!Array.isArray(ekCa) || ekCa.length === 0 || !ekCa.every((x) => typeof x === 'string' && x !== '')) throw configError(file, 'ek-ca', 'expected a list of PEM files (TPM manufacturer CAs)');
  const out: string[] = [];
  for (const [i, f] of (ekCa as string[]).entries()) {
    const pem = (await readOr(file, `ek-ca[${i}]`, resolve(dirname(file), f))).toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw configError(file, `ek-ca[${i}]`, `${f} holds no PEM certificate`);
    out.push(pem);
  }
  return out;
}

/** netconf: {listen, users} to also serve integrity-request over NETCONF/SSH */
export function netconfOf(file: string, ncRaw: unknown, env: NodeJS.ProcessEnv): NonNullable<PveDevicesFile['netconf']> {
  if (typeof ncRaw !== 'object' || ncRaw === null) throw configError(file, 'netconf', 'expected a mapping {listen, users}');
  const nc = ncRaw as Record<string, unknown>;
  if (typeof nc.listen !== 'string') throw configError(file, 'netconf.listen', 'expected HOST:PORT');
  if (!Array.isArray(nc.users) || nc.users.length === 0) throw configError(file, 'netconf.users', 'expected a list of {username, password | password-env}');
  const users = nc.users.map((u: unknown, i: number) => {
    const r = (u ?? {}) as Record<string, unknown>;
    if (typeof r.username !== 'string' || r.username.length === 0) throw configError(file, `netconf.users[${i}].username`, 'expected a non-empty string');
    let password = r.password;
    if (password === undefined && typeof r['password-env'] === 'string') password = env[r['password-env']];
    if (typeof password !== 'string' || password.length === 0) throw configError(file, `netconf.users[${i}].password`, 'expected a password or password-env naming a set variable');
    return { username: r.username, password };
  });
  return { listen: nc.listen, users };
}

/** an address option (HOST:PORT), a usage error naming the option when malformed */
function listenOption(text: unknown, what: string): { host: string; port: number } {
  try {
    if (typeof text !== 'string') throw new Error('expected HOST:PORT');
    return parseListen(text);
  } catch (e) {
    throw new CliUsageError(`pve: ${what}: ${(e as Error).message}`);
  }
}

/** --call-home-listen: required when the devices file has call-home devices */
function callHomeOption(options: Record<string, unknown>, inv: PveDevicesFile): { host: string; port: number } | undefined {
  const chText = options['call-home-listen'];
  if (chText !== undefined) return listenOption(chText, '--call-home-listen');
  if (inv.devices.some((d) => d.callHome === true)) {
    throw new CliUsageError('pve: the devices file has call-home devices: give --call-home-listen HOST:PORT (the port they call, 4334 by default)');
  }
  return undefined;
}

type CallHomeTls = { listen: { host: string; port: number }; cert: string; key: string };

/** --call-home-tls-listen (RFC 8071 section 4): the PVE presents the one client certificate of its TLS call-home devices */
function callHomeTlsOption(options: Record<string, unknown>, inv: PveDevicesFile, callHome: unknown): CallHomeTls | undefined {
  const chTlsText = options['call-home-tls-listen'];
  const tlsCalling = inv.devices.filter((d) => d.callHome === true && d.transport === 'tls');
  if (chTlsText === undefined) {
    if (tlsCalling.length > 0) throw new CliUsageError('pve: the devices file has devices calling home over TLS: give --call-home-tls-listen HOST:PORT (4335 by default)');
    return undefined;
  }
  const at = listenOption(chTlsText, '--call-home-tls-listen');
  const first = tlsCalling[0]?.tls;
  if (first === undefined) throw new CliUsageError('pve: --call-home-tls-listen: the devices file has no device calling home over TLS (transport tls, call-home true) to take the PVE\'s client certificate from');
  if (tlsCalling.some((d) => d.tls?.cert !== first.cert)) throw new CliUsageError('pve: --call-home-tls-listen: the TLS call-home devices name different client certificates; the PVE presents one');
  if (callHome === undefined) throw new CliUsageError('pve: --call-home-tls-listen needs --call-home-listen too (SSH call home)');
  return { listen: at, cert: first.cert, key: first.key };
}

/** the JWKS file next to the data, then the ready line (JSON with --json) */
async function announcePve(pve: Awaited<ReturnType<typeof startPve>>, dataDir: string, devices: number, json: boolean, ctx: CommandContext): Promise<void> {
  const jwksFile = join(dataDir, 'jwks.json');
  await writeFile(`${jwksFile}.tmp`, JSON.stringify(pve.jwks, null, 2) + '\n');
  await rename(`${jwksFile}.tmp`, jwksFile);
  const ready = {
    event: 'listening', url: pve.url, host: pve.host, port: pve.port, ca: pve.caPath, jwks: jwksFile, issuer: pve.issuer, devices,
    ...(pve.netconf !== undefined ? { netconf: pve.netconf } : {}),
    ...(pve.callHome !== undefined ? { callHome: pve.callHome } : {}),
  };
  const nc = (pve.netconf !== undefined ? `, NETCONF ${pve.netconf.host}:${pve.netconf.port} ssh host key ${pve.netconf.hostKeySha256}` : '')
    + (pve.callHome !== undefined ? `, call home on ${pve.callHome.host}:${pve.callHome.port}` : '')
    + (pve.callHome?.tls !== undefined ? `, call home over TLS on ${pve.callHome.tls.host}:${pve.callHome.tls.port}` : '');
  if (json) ctx.stdout.write(JSON.stringify(ready) + '\n');
  else ctx.stdout.write(`henb-sw-verify: PVE listening on ${pve.url} (CA ${pve.caPath}, JWKS ${jwksFile}, issuer ${pve.issuer}, ${devices} H(e)NB(s)${nc})\n`);
}

/**
 * options: { listen: 'HOST:PORT', 'data-dir': DIR, devices?: FILE, 'log-level'?: string, json?: boolean }.
 * ctx.env (when present) resolves password-env references.
 */
export async function runPveCommand(options: Record<string, unknown>, ctx: CommandContext & { readonly env?: NodeJS.ProcessEnv }): Promise<number> {
  const listenText = options.listen;
  if (typeof listenText !== 'string') throw new CliUsageError('pve: --listen HOST:PORT is required');
  let listen: { host: string; port: number };
  try {
    listen = parseListen(listenText);
  } catch (e) {
    throw new CliUsageError(`pve: ${(e as Error).message}`);
  }
  const dirText = options['data-dir'];
  if (typeof dirText !== 'string') throw new CliUsageError('pve: --data-dir DIR is required');
  const dataDir = resolve(ctx.cwd, dirText);
  const log = createLogger({ level: logLevelOf(options['log-level'], 'info'), write: (l) => ctx.stderr.write(l) });
  const file = typeof options.devices === 'string' ? resolve(ctx.cwd, options.devices) : undefined;
  const inv: PveDevicesFile = file !== undefined ? await loadPveDevicesFile(file, ctx.env ?? process.env) : { devices: [], referenceValues: factoryReferenceValues(), approvedSoftware: [] };
  const callHome = callHomeOption(options, inv);
  const callHomeTls = callHomeTlsOption(options, inv, callHome);
  const oamJwks = typeof options['oam-jwks'] === 'string' ? resolve(ctx.cwd, options['oam-jwks']) : inv.oamJwks;
  const pve = await startPve({
    listen, dataDir, devices: inv.devices, referenceValues: inv.referenceValues, approvedSoftware: inv.approvedSoftware, log,
    ...(inv.netconf !== undefined ? { netconf: inv.netconf } : {}),
    ...(oamJwks !== undefined ? { oamJwks } : {}),
    ...(inv.oamIssuer !== undefined ? { oamIssuer: inv.oamIssuer } : {}),
    ...(inv.ekCa !== undefined ? { ekCa: inv.ekCa } : {}),
    ...(callHome !== undefined ? { callHome: { listen: callHome, ...(callHomeTls !== undefined ? { tls: callHomeTls } : {}) } } : {}),
  });
  try {
    await announcePve(pve, dataDir, inv.devices.length, options.json === true, ctx);
    await waitForAbort(ctx.signal);
  } finally {
    await pve.close();
  }
  return 0;
}
