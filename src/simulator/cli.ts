/**
 * `henb-sw-verify simulate` (the command's options and help live in src/cli/commands/simulate.ts): start a
 * fleet, print the inventory (text lines, or one JSON document with --json: the devices and the reference
 * values, which `henb-sw-verify pve --devices FILE` reads as it is), serve until the context's signal is
 * aborted (SIGINT/SIGTERM), close everything and return the exit code.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseHostPort, parsePort } from '../host-port.js';
import { createLogger } from '../log/logger.js';
import type { LogLevel } from '../log/logger.js';
import { startFleet } from './simulator.js';
import type { CallHomeTarget, FleetEntry } from './simulator.js';
import { isTrustRoot } from './tpm-root.js';
import { tpmToolsAvailable } from './tpm/index.js';
import { waitForAbort } from '../abort.js';

/** the parts of the CLI context this command uses (src/cli/command.ts CliContext fits) */
export interface CommandContext {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly signal: AbortSignal;
  readonly cwd: string;
}

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

function usage(message: string): UsageError {
  return new UsageError(message);
}

export function logLevelOf(v: unknown, fallback: LogLevel): LogLevel {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !LEVELS.includes(v)) throw usage(`--log-level must be one of ${LEVELS.join(', ')}`);
  return v as LogLevel;
}

/**
 * options: { fleet: Array<{profile, count, trustRoot?}>, 'trust-root'?: string, 'tpm-ek-ca'?: string, host?: string, 'base-port'?: string,
 * 'data-dir'?: string, 'software-ca'?: string, 'log-level'?: string, json?: boolean }. Returns 0 after a clean stop.
 */
export async function runSimulateCommand(options: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const fleet = options.fleet as FleetEntry[] | undefined;
  if (!Array.isArray(fleet) || fleet.length === 0) throw usage('simulate: --fleet PROFILE=N,... names no device');
  const trustRoot = options['trust-root'] ?? 'software-key';
  if (!isTrustRoot(trustRoot)) throw usage('simulate: --trust-root must be software-key or tpm');
  if ((trustRoot === 'tpm' || fleet.some((e) => e.trustRoot === 'tpm')) && !tpmToolsAvailable()) {
    throw usage('simulate: trust root tpm needs swtpm and tpm2-tools (scripts/install-peers.sh installs them)');
  }
  const tpmEkCa = ekCaDir(options['tpm-ek-ca'], trustRoot === 'tpm' || fleet.some((e) => e.trustRoot === 'tpm'), ctx.cwd);
  const host = typeof options.host === 'string' ? options.host : '127.0.0.1';
  const portText = typeof options['base-port'] === 'string' ? options['base-port'] : '0';
  const basePort = parsePort(portText);
  if (basePort === undefined) throw usage(`simulate: --base-port must be a port number, got '${portText}'`);
  const dataDir = typeof options['data-dir'] === 'string' ? resolve(ctx.cwd, options['data-dir']) : undefined;
  const json = options.json === true;
  // --software-ca FILE: devices fetch the software-update uri over https trusting this CA (e.g. the conformance
  // kit's kit-ca.pem) and check its digest, as a real device does; without it the uri is not read
  let caPem: string | undefined;
  if (typeof options['software-ca'] === 'string') {
    const file = resolve(ctx.cwd, options['software-ca']);
    caPem = await readFile(file, 'utf8').catch(() => {
      throw usage(`simulate: cannot read --software-ca ${file}`);
    });
  }
  const callHome = callHomeTargets(options['call-home']);
  const log = createLogger({ level: logLevelOf(options['log-level'], 'warn'), write: (l) => ctx.stderr.write(l) });
  const f = await startFleet({
    fleet, trustRoot, host, basePort, ...(dataDir !== undefined ? { dataDir } : {}), ...(caPem !== undefined ? { fetchSoftware: { caPem } } : {}),
    ...(callHome.length > 0 ? { callHome } : {}), ...(options.tls === true ? { tls: true } : {}), ...(tpmEkCa !== undefined ? { tpmEkCa } : {}), log,
  });
  // the manufacturer CA a PVE trusts for these EK certificates (pve --devices reads ekCa as ek-ca)
  const ekCa = tpmEkCa !== undefined ? join(tpmEkCa, 'swtpm-localca-rootca-cert.pem') : undefined;
  try {
    if (json) {
      ctx.stdout.write(JSON.stringify({ event: 'ready', devices: f.devices, referenceValues: f.referenceValues, ...(ekCa !== undefined ? { ekCa: [ekCa] } : {}) }) + '\n');
    } else {
      ctx.stdout.write(`henb-sw-verify: simulating ${f.devices.length} H(e)NB(s) on ${host}${callHome.length > 0 ? `, calling home to ${callHome.map((t) => `${t.transport === 'tls' ? 'tls://' : ''}${t.host}:${t.port}`).join(', ')}` : ''}\n`);
      if (f.tls !== undefined) ctx.stdout.write(`NETCONF over TLS: devices' CA ${f.tls.ca.certFile}, client certificate ${f.tls.client.certFile} key ${f.tls.client.keyFile}\n`);
      if (ekCa !== undefined) ctx.stdout.write(`TPM EK certificates: manufacturer CA ${ekCa} (the PVE's ek-ca), intermediate ${join(tpmEkCa!, 'issuercert.pem')}\n`);
      for (const d of f.devices) {
        const tls = d.netconfTls !== undefined ? ` tls-port ${d.netconfTls.port} tls-certificate ${d.netconfTls.certSha256}` : '';
        ctx.stdout.write(`${d.henbId} ${d.host}:${d.port} user ${d.username} password ${d.password} host-key ${d.hostKeySha256}${tls} profile ${d.profile} trust-root ${d.trustRoot}${d.akName !== undefined ? ` ak ${d.akName}` : ''}${ekCertOf(d.ekCertificate)}\n`);
      }
    }
    await waitForAbort(ctx.signal);
  } finally {
    await f.close();
  }
  return 0;
}

/**
 * --tpm-ek-ca DIR: the local CA directory the swtpms' EK certificates come from (absolute); only with tpm devices, and
 * only when swtpm_setup and swtpm_localca are installed
 */
export function ekCaDir(v: unknown, anyTpm: boolean, cwd: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw usage('simulate: --tpm-ek-ca needs a directory');
  if (!anyTpm) throw usage('simulate: --tpm-ek-ca makes EK certificates for TPM devices: add --trust-root tpm or PROFILE@tpm in --fleet');
  if (!existsSync('/usr/bin/swtpm_setup') || !existsSync('/usr/bin/swtpm_localca')) {
    throw usage('simulate: --tpm-ek-ca needs swtpm_setup and swtpm_localca (package swtpm-tools; scripts/install-peers.sh installs it)');
  }
  return resolve(cwd, v);
}

/** the text inventory's EK certificate column: its SHA-256 fingerprint */
function ekCertOf(der: string | undefined): string {
  return der !== undefined ? ` ek-certificate ${createHash('sha256').update(Buffer.from(der, 'base64')).digest('hex')}` : '';
}

/** --call-home [tls://|ssh://]HOST:PORT[,...] (a string, or the strings of a repeated option): where devices call, and how */
export function callHomeTargets(v: unknown): CallHomeTarget[] {
  if (v === undefined) return [];
  const texts = (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(',') : [String(x)])).map((t) => t.trim()).filter(Boolean);
  if (texts.length === 0) throw usage('simulate: --call-home names no HOST:PORT');
  return texts.map((t) => {
    const m = /^(ssh|tls):\/\/(.*)$/i.exec(t);
    const hp = parseHostPort(m ? m[2]! : t);
    if (hp === undefined || hp.port === 0) throw usage(`simulate: --call-home must be [tls://]HOST:PORT (port 1..65535; the IANA call-home ports are 4334 for SSH, 4335 for TLS), got '${t}'`);
    return m?.[1]?.toLowerCase() === 'tls' ? { ...hp, transport: 'tls' as const } : hp;
  });
}
