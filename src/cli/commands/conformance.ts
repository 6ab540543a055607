/**
 * `henb-sw-verify conformance`: run a vendor's femtocell through the device conformance kit (src/conformance)
 * and print one line per requirement; --json and --junit for machines. Exit 0 when every MUST passes, 1 when
 * one fails or cannot be checked, 2 for usage errors, 3 when the device cannot be reached at all.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, int, parseHostPort, requireStr, str } from '../args.js';
import { CliUsageError } from '../errors.js';
import { formatHostPort } from '../../host-port.js';
import { EXIT } from '../exit-codes.js';
import { colors } from '../color.js';
import { formatTable } from '../table.js';
import { importComponent } from '../lazy.js';
import type * as Kit from '../../conformance/index.js';
import type * as Device from '../../device/index.js';

type KitModule = typeof Kit;
type DeviceModule = Pick<typeof Device, 'sshKeyFingerprint' | 'fingerprintBytes'>;

export const conformanceCommand: Command = {
  name: 'conformance',
  summary: 'test a femtocell against the device module contract (the vendor conformance kit)',
  usage: '(--device HOST:PORT | --call-home-listen HOST[:PORT]) (--username U (--password-env VAR | --key FILE) --host-key FP | ' +
    '--transport tls --tls-client-cert FILE --tls-client-key FILE (--tls-ca FILE | --tls-certificate FP) [--tls-server-name NAME]) ' +
    '[--device-public-key FILE] [--henb-id ID] [--trust-root software|tpm] [--json] [--junit FILE]',
  description:
    'Runs a device through everything the OAM and the PVE rely on (requirement ids HSV-*, docs/device-vendor-guide.md): ' +
    'NETCONF over SSH with base:1.1, RFC 5277 notifications with replay, the device module announced and served, signed ' +
    'integrity measurements, software-update from the kit\'s own HTTPS server (a test image it makes), the wrong-digest, ' +
    'unreachable-URI and slot-busy cases, the attested completion and its replay, and rollback, which leaves a conforming ' +
    'device running the software it ran before. The device must trust the kit\'s certificate (--tls-dir keeps it between runs). ' +
    'Without --device-public-key, signature checks use the key the device presents (state attestation-key, HSV-KEY-01) and pass as ' +
    '"unpinned key (presented by the device)", or skip when it presents none; with it, a presented key that differs fails HSV-KEY-01. ' +
    'Without --henb-id the completion signature is not checked. ' +
    'With --call-home-listen the kit does not dial: it listens (RFC 8071 NETCONF Call Home, port 4334 when only a host is given) ' +
    'and waits up to --timeout for the device to connect; the device is known only by its pinned --host-key (another key is refused ' +
    'before any credential is sent), and every session of the run is opened on the connection it made. ' +
    'With --transport tls the kit speaks NETCONF over TLS (RFC 7589; port 6513 is the IANA one) as the OAM does for a TLS H(e)NB ' +
    '(docs/operator-guide.md): it presents --tls-client-cert/--tls-client-key, which the device maps to a NETCONF user, and checks the ' +
    'device\'s certificate against --tls-ca (chain, and the address dialled or --tls-server-name) and/or the pinned --tls-certificate ' +
    '(SHA-256); with --call-home-listen the device calls home over TLS (RFC 8071 section 4, port 4335 when only a host is given) and is ' +
    'known by that certificate. ' +
    'Exit 0 when every MUST requirement passes, 1 when one fails or cannot be checked, 2 usage error, 3 device unreachable, ' +
    '130 interrupted (the first Ctrl-C stops after the current check and still rolls back the kit\'s update; a second one ends at once).',
  options: {
    device: { type: 'string', value: 'HOST:PORT', help: 'the device\'s NETCONF/SSH address' },
    username: { type: 'string', value: 'U', help: 'SSH user' },
    'password-env': { type: 'string', value: 'VAR', help: 'read the SSH password from this environment variable' },
    key: { type: 'string', value: 'FILE', help: 'SSH private key file (instead of a password)' },
    'host-key': { type: 'string', value: 'FP', help: 'the device\'s SSH host key: SHA256:... fingerprint, or its public key (line or .pub file)' },
    transport: { type: 'string', value: 'ssh|tls', help: 'NETCONF over SSH (RFC 6242) or over TLS (RFC 7589), as an inventory entry\'s transport', default: 'ssh' },
    'tls-client-cert': { type: 'string', value: 'FILE', help: 'TLS: the kit\'s client certificate (PEM, with intermediates), which the device maps to a user (as device-tls.cert / tls-client-cert)' },
    'tls-client-key': { type: 'string', value: 'FILE', help: 'TLS: the private key of --tls-client-cert (as device-tls.key / tls-client-key)' },
    'tls-ca': { type: 'string', value: 'FILE', help: 'TLS: the CA(s) the device\'s certificate must chain to (PEM; as device-tls.ca / tls-ca)' },
    'tls-certificate': { type: 'string', value: 'FP', help: 'TLS: the device certificate\'s pinned SHA-256 (hex, colons allowed; as tls-certificate)' },
    'tls-server-name': { type: 'string', value: 'NAME', help: 'TLS: the name the device\'s certificate carries, when not the address dialled (as tls-server-name)' },
    'device-public-key': { type: 'string', value: 'FILE', help: 'the enrolled evidence key: PEM, or with --trust-root tpm the AK\'s TPM2B_PUBLIC (binary or base64); without it signatures are checked with the key the device presents ("unpinned")' },
    'henb-id': { type: 'string', value: 'ID', help: 'the H(e)NB id the device signs into its completions' },
    'call-home-listen': { type: 'string', value: 'HOST[:PORT]', help: 'instead of --device: listen here and wait for the device to call home (RFC 8071; port 4334 by default)' },
    'trust-root': { type: 'string', value: 'software|tpm', help: 'the evidence the completion must carry', default: 'software' },
    'tls-dir': { type: 'string', value: 'DIR', help: 'keep the kit\'s image-server certificate (kit-ca.pem) here; default: a new one per run' },
    'image-listen': { type: 'string', value: 'HOST:PORT', help: 'the kit\'s HTTPS image server (the device fetches from it)', default: '127.0.0.1:0' },
    timeout: { type: 'string', value: 'SECONDS', help: 'wait this long for each completion (install, download, rollback) and, with --call-home-listen, for the device\'s call', default: '120' },
    transcript: { type: 'string', value: 'FILE', help: 'write every rpc and notification of the run (XML) to FILE' },
    json: { type: 'boolean', help: 'print the report as JSON (with the exchanges)' },
    junit: { type: 'string', value: 'FILE', help: 'write a JUnit XML report to FILE' },
  },
  examples: [
    'DEVICE_PW=secret henb-sw-verify conformance --device 192.0.2.10:830 --username oam --password-env DEVICE_PW ' +
      '--host-key SHA256:... --device-public-key enrolled.pem --henb-id femto-0042 --image-listen 192.0.2.1:8443 --tls-dir ./kit-tls --junit kit.xml',
    'DEVICE_PW=secret henb-sw-verify conformance --call-home-listen 192.0.2.1:4334 --username oam --password-env DEVICE_PW ' +
      '--host-key SHA256:... --device-public-key enrolled.pem --henb-id femto-0042 --image-listen 192.0.2.1:8443 --tls-dir ./kit-tls',
  ],
  exitCodes: [EXIT.OK, EXIT.FAILED, EXIT.USAGE, EXIT.UNAVAILABLE, EXIT.INTERRUPTED],
  run: runConformanceCommand,
};

/** --call-home-listen HOST:PORT, [IPv6]:PORT, or HOST alone for the IANA port: netconf-ch-ssh 4334, netconf-ch-tls 4335 */
function parseCallHomeListen(text: string, tls: boolean): { host: string; port: number } {
  if (/^(?:\[[^\]]+\]|[^:[\]\s]+)$/.test(text)) return { host: text.replace(/^\[(.*)\]$/, '$1'), port: tls ? 4335 : 4334 };
  return parseHostPort(text, '--call-home-listen');
}

const SSH_ONLY = ['username', 'password-env', 'key', 'host-key'] as const;
const TLS_ONLY = ['tls-client-cert', 'tls-client-key', 'tls-ca', 'tls-certificate', 'tls-server-name'] as const;

/** --transport tls: the kit's client certificate and what the device's certificate is checked against (DeviceTlsSettings) */
async function tlsSettings(args: ParsedArgs, ctx: CliContext): Promise<NonNullable<Device.DeviceTarget['tls']>> {
  const cmd = 'conformance';
  const read = async (opt: string): Promise<string> => {
    const file = requireStr(args, cmd, opt);
    return readFile(resolve(ctx.cwd, file), 'utf8').catch((e: unknown) => {
      throw new CliUsageError(`conformance: cannot read --${opt} ${file}`, { cause: e });
    });
  };
  const cert = await read('tls-client-cert');
  const key = await read('tls-client-key');
  const caFile = str(args, 'tls-ca');
  const pin = str(args, 'tls-certificate');
  if (caFile === undefined && pin === undefined) throw new CliUsageError('conformance: --transport tls needs --tls-ca FILE or --tls-certificate FP (what the device\'s certificate is checked against)');
  if (pin !== undefined && !/^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$/.test(pin.trim())) {
    throw new CliUsageError(`conformance: --tls-certificate expects a SHA-256 fingerprint (64 hex digits, colons allowed), got '${pin}'`);
  }
  const serverName = str(args, 'tls-server-name');
  return {
    cert, key,
    ...(caFile !== undefined ? { ca: await read('tls-ca') } : {}),
    ...(pin !== undefined ? { certSha256: pin.trim() } : {}),
    ...(serverName !== undefined ? { serverName } : {}),
  };
}

/** --host-key: a fingerprint, an OpenSSH public key line, or a file holding one */
function hostKeyPin(text: string, cwd: string, dev: DeviceModule): string {
  let t = text.trim();
  const file = resolve(cwd, t);
  if (!t.startsWith('SHA256:') && existsSync(file)) t = readFileSync(file, 'utf8').trim();
  if (dev.fingerprintBytes(t) !== undefined) return t;
  const m = /^(?:ssh-|ecdsa-|sk-)\S*\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)/.exec(t);
  if (m) return dev.sshKeyFingerprint(Buffer.from(m[1]!, 'base64'));
  throw new CliUsageError(`conformance: --host-key expects a SHA256:... fingerprint or an OpenSSH public key, got '${text}'`);
}

/** where the device is (dialled, or calling the kit) and over which transport; the other transport's options refused */
function reachOf(args: ParsedArgs): { device?: { host: string; port: number }; callHome?: { host: string; port: number }; overTls: boolean } {
  const deviceText = str(args, 'device');
  const chText = str(args, 'call-home-listen');
  if ((deviceText === undefined) === (chText === undefined)) {
    throw new CliUsageError('conformance: give exactly one of --device HOST:PORT (the kit dials the device) and --call-home-listen HOST[:PORT] (the device calls the kit)');
  }
  const transport = str(args, 'transport') ?? 'ssh';
  if (transport !== 'ssh' && transport !== 'tls') throw new CliUsageError(`conformance: --transport must be ssh or tls, got '${transport}'`);
  const overTls = transport === 'tls';
  for (const o of overTls ? SSH_ONLY : TLS_ONLY) {
    if (str(args, o) !== undefined) {
      throw new CliUsageError(overTls
        ? `conformance: --${o} is for SSH; over TLS the kit is known by --tls-client-cert and the device by its certificate (--tls-ca / --tls-certificate)`
        : `conformance: --${o} is for --transport tls`);
    }
  }
  return {
    ...(deviceText !== undefined ? { device: parseHostPort(deviceText, '--device') } : {}),
    ...(chText !== undefined ? { callHome: parseCallHomeListen(chText, overTls) } : {}),
    overTls,
  };
}

/** the password from --password-env, or the private key from --key (SSH) */
async function sshSecret(pwEnv: string | undefined, keyFile: string | undefined, ctx: CliContext): Promise<{ password?: string; privateKey?: string }> {
  if (pwEnv !== undefined) {
    const password = ctx.env[pwEnv];
    if (password === undefined || password === '') throw new CliUsageError(`conformance: the environment variable ${pwEnv} (--password-env) is not set`);
    return { password };
  }
  if (keyFile === undefined) return {};
  const privateKey = await readFile(resolve(ctx.cwd, keyFile), 'utf8').catch((e: unknown) => {
    throw new CliUsageError(`conformance: cannot read --key ${keyFile}`, { cause: e });
  });
  return { privateKey };
}

/** --device-public-key FILE, read */
async function devicePublicKeyOf(args: ParsedArgs, ctx: CliContext): Promise<Buffer | undefined> {
  const pkFile = str(args, 'device-public-key');
  if (pkFile === undefined) return undefined;
  return readFile(resolve(ctx.cwd, pkFile)).catch((e: unknown) => {
    throw new CliUsageError(`conformance: cannot read --device-public-key ${pkFile}`, { cause: e });
  });
}

/** the kit's run options from the command line (every usage error before anything is started) */
async function kitOptionsOf(args: ParsedArgs, ctx: CliContext): Promise<Kit.ConformanceOptions & { completionTimeoutMs: number }> {
  const cmd = 'conformance';
  const { device, callHome, overTls } = reachOf(args);
  const username = overTls ? '' : requireStr(args, cmd, 'username');
  const pwEnv = str(args, 'password-env');
  const keyFile = str(args, 'key');
  if (!overTls && (pwEnv === undefined) === (keyFile === undefined)) throw new CliUsageError('conformance: give exactly one of --password-env VAR and --key FILE');
  const trustRoot = str(args, 'trust-root') ?? 'software';
  if (trustRoot !== 'software' && trustRoot !== 'tpm') throw new CliUsageError(`conformance: --trust-root must be software or tpm, got '${trustRoot}'`);
  const timeoutS = int(args, cmd, 'timeout', 120, { max: 86_400 });
  const image = parseHostPort(str(args, 'image-listen') ?? '127.0.0.1:0', '--image-listen');
  const dev = await importComponent<DeviceModule>('../device/index.js', 'the device driver (src/device)', 'sshKeyFingerprint');
  const pin = overTls ? undefined : hostKeyPin(requireStr(args, cmd, 'host-key'), ctx.cwd, dev);
  const tls = overTls ? await tlsSettings(args, ctx) : undefined;
  const { password, privateKey } = await sshSecret(pwEnv, keyFile, ctx);
  const devicePublicKey = await devicePublicKeyOf(args, ctx);
  const tlsDir = str(args, 'tls-dir');
  const henbId = str(args, 'henb-id');
  return {
    target: {
      host: device?.host ?? '', port: device?.port ?? 0, username,
      ...(pin !== undefined ? { hostKeySha256: pin } : {}),
      ...(password !== undefined ? { password } : {}), ...(privateKey !== undefined ? { privateKey } : {}),
      ...(tls !== undefined ? { transport: 'tls' as const, tls } : {}),
    },
    ...(callHome !== undefined ? { callHomeListen: callHome } : {}),
    trustRoot, completionTimeoutMs: timeoutS * 1000, imageHost: image.host, imagePort: image.port, signal: ctx.signal,
    ...(devicePublicKey !== undefined ? { devicePublicKey } : {}),
    ...(henbId !== undefined ? { henbId } : {}),
    ...(tlsDir !== undefined ? { tlsDir: resolve(ctx.cwd, tlsDir) } : {}),
  };
}

/** what the person starting the device must know: the image URL and CA, and (also with --json) where to call home */
function announceReady(o: Kit.ConformanceOptions, json: boolean, ctx: CliContext): NonNullable<Kit.ConformanceOptions['onReady']> {
  const { hostKeySha256: pin, tls } = o.target;
  const overTls = tls !== undefined;
  const timeoutS = (o.completionTimeoutMs ?? 0) / 1000;
  return (info) => {
    if (!json) ctx.stderr.write(`conformance: the device fetches test images from ${info.imageUrl} and must trust ${info.caPath}\n`);
    if (info.callHome !== undefined) {
      // also with --json (on stderr): whoever starts the device needs the address, which may be a free port
      const who = pin !== undefined ? `host key ${pin}` : tls?.certSha256 !== undefined ? `certificate ${tls.certSha256}` : `a certificate from --tls-ca naming ${tls?.serverName ?? '?'}`;
      ctx.stderr.write(`conformance: waiting up to ${timeoutS} s for the device with ${who} to call home${overTls ? ' over TLS' : ''} to ${formatHostPort(info.callHome)}\n`);
    }
  };
}

async function runConformanceCommand(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const options = await kitOptionsOf(args, ctx);
  const kit = await importComponent<KitModule>('../conformance/index.js', 'the conformance kit (src/conformance)', 'runConformance');
  const json = bool(args, 'json');
  const transcript: Kit.Exchange[] = [];
  let report: Kit.ConformanceReport;
  try {
    report = await kit.runConformance({ ...options, transcript, onReady: announceReady(options, json, ctx) });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_CONFORMANCE_OPTIONS') throw new CliUsageError(`conformance: ${(e as Error).message}`, { cause: e });
    throw e;
  }
  const junit = str(args, 'junit');
  if (junit !== undefined) await writeFile(resolve(ctx.cwd, junit), kit.reportJunit(report));
  const tr = str(args, 'transcript');
  if (tr !== undefined) await writeFile(resolve(ctx.cwd, tr), kit.transcriptText(transcript));
  if (json) ctx.stdout.write(kit.reportJson(report));
  else ctx.stdout.write(formatReport(report, ctx.tty));
  if (report.interrupted === true) return EXIT.INTERRUPTED;
  return report.ok ? EXIT.OK : EXIT.FAILED;
}

const MAX_SHOWN = 400;
const cut = (s: string): string => (s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}... (${s.length} characters; --json or --transcript has all)` : s);

export function formatReport(r: Kit.ConformanceReport, tty: boolean): string {
  const c = colors(tty);
  const shown = (o: Kit.Outcome): string => (o === 'pass' ? c.green('pass') : o === 'fail' ? c.red('fail') : c.yellow('skip'));
  const rows = r.results.map((x) => [x.id, x.level, x.unpinned === true ? c.yellow('pass (unpinned key)') : shown(x.outcome), x.title]);
  const keyLine = r.keySource === 'pinned' ? 'enrolled key pinned'
    : r.keySource === 'presented' ? 'unpinned: no --device-public-key, signatures checked with the key the device presents'
      : 'unpinned: no --device-public-key and no usable presented key';
  let out = `conformance of ${r.device} (trust root ${r.trustRoot}, ${keyLine})\n`;
  out += formatTable([{ header: 'requirement' }, { header: 'level' }, { header: 'result' }, { header: 'title', wrap: true }], rows);
  for (const x of r.results.filter((y) => y.outcome === 'fail')) {
    out += `\n${x.id} fail: ${x.detail}\n`;
    if (x.expected !== undefined) out += `  expected: ${x.expected}\n`;
    for (const e of x.exchanges) {
      if (e.sent !== '') out += `  sent:     ${cut(e.sent)}\n`;
      out += `  received: ${cut(e.received)}\n`;
    }
  }
  // skips grouped by their reason (a missing module skips most of the list for one reason)
  const skips = new Map<string, string[]>();
  for (const x of r.results.filter((y) => y.outcome === 'skip')) skips.set(x.detail, [...(skips.get(x.detail) ?? []), x.id]);
  for (const [why, ids] of skips) out += `\n${ids.join(', ')} skip: ${why}\n`;
  const unpinned = r.results.filter((x) => x.unpinned === true).map((x) => x.id);
  if (unpinned.length > 0) {
    out += `\n${unpinned.join(', ')} pass (unpinned key): verified with the key the device presents (attestation-key, HSV-KEY-01), not an enrolled one: ` +
      'the device signs consistently with the key it shows, which does not prove it is the device you enrolled; give --device-public-key to pin it\n';
  }
  const count = (o: Kit.Outcome): number => r.results.filter((x) => x.outcome === o).length;
  out += `\n${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped; ${r.ok ? c.green('every MUST requirement passed') : c.red('not conforming: a MUST requirement failed or could not be checked')}\n`;
  out += `device left: ${r.leftState}\n`;
  if (r.interrupted === true) out += 'interrupted: the checks not reached are skipped (the kit\'s own update was rolled back first)\n';
  return out;
}
