/**
 * The reference PVE (Platform Validation Entity): a RESTCONF server (RFC 8040) over HTTPS exposing
 * POST /restconf/operations/henb-sw-verify-pve:integrity-request with RFC 7951 JSON. On a request it
 * collects evidence from the H(e)NB (integrity-measurement over NETCONF with its OWN fresh nonce), checks the
 * device signature with the device public key, replays the measurement log, compares the components with
 * its reference values, and answers with a signed EAR token (src/tokens signResult) whose eat_nonce is the
 * requester's nonce-value (as base64url).
 *
 * This module only puts the parts together: the inventory (inventory.ts), the reference values
 * (references.ts), the collection limit (limiter.ts), the core that collects, appraises and signs (verifier.ts),
 * its RESTCONF endpoint (restconf-server.ts), the optional NETCONF endpoint (netconf-endpoint.ts) and the
 * optional call-home listener (src/device/call-home.ts).
 */
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { HsvError } from '../errors.js';
import { parseHostPort } from '../host-port.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import type { ReferenceValues } from '../integrity/index.js';
import { approvedSoftware } from './approved.js';
import { loadOrCreateSigningKey } from '../tokens/index.js';
import type { Jwks, SigningKey } from '../tokens/index.js';
import { loadOrCreatePveTls } from './tls.js';
import { openProvidedReferenceValues } from './provided.js';
import type { ProvidedReferenceValues } from './provided.js';
import { netconfEvidenceCollector } from './collector.js';
import { connectDevice, createCallHomeListener } from '../device/index.js';
import type { CallHomeListener, DeviceConnector } from '../device/index.js';
import { startPveNetconf } from './netconf-endpoint.js';
import type { UserEntry } from '../netconf/server/index.js';
import { PveServiceError } from './errors.js';
import { checkInputLeaves } from './input.js';
import { DeviceInventory } from './inventory.js';
import { ConcurrencyLimit } from './limiter.js';
import { PveReferences } from './references.js';
import { createRestconfServer } from './restconf-server.js';
import type { SignedListOutcome } from './batch.js';
import { DEFAULT_NONCES_REMEMBERED, DEFAULT_NONCE_WINDOW_MS, PveVerifier } from './verifier.js';
import { openNonceMemory } from './nonce-memory.js';
import type { NonceMemory } from './nonce-memory.js';
import type { VerifierParts } from './verifier.js';
import { openTpmClocks } from './tpm-clocks.js';
import type { TpmClocks } from './tpm-clocks.js';
import { AkBindings } from './ak-binding.js';
import type { EvidenceCollector, PveDeviceEntry } from './types.js';

export { PveServiceError } from './errors.js';
export type { PveServiceErrorCode } from './errors.js';
export { checkCompletion, checkInputLeaves } from './input.js';

export interface StartPveOptions {
  /** 'HOST:PORT' ('[::1]:PORT' for IPv6) or {host, port}; port 0 picks a free port */
  listen: string | { host: string; port: number };
  /** TLS material (tls/) and the signing key (keys/) live here */
  dataDir: string;
  devices: PveDeviceEntry[];
  referenceValues: ReferenceValues;
  /** the result-signing key; default loadOrCreateSigningKey(dataDir/keys, 'pve') */
  signingKey?: SigningKey;
  /** token iss (default 'urn:henb-sw-verify:pve') */
  issuer?: string;
  /** token aud (default 'urn:henb-sw-verify:oam') */
  audience?: string | string[];
  /** token lifetime, s (default 300) */
  tokenTtlSec?: number;
  /** how long the evidence collection from a device may take, ms (default 10000) */
  deviceTimeoutMs?: number;
  collector?: EvidenceCollector;
  /**
   * also serve integrity-request over NETCONF/SSH (host key in DATA_DIR/netconf); users log in with a
   * password or authorized keys
   */
  netconf?: { listen: string | { host: string; port: number }; users: UserEntry[] };
  /** evidence collections at once (default 64); beyond 16x that, requests get resource-denied (503) */
  maxConcurrent?: number;
  /**
   * files or directories of approved software images: their SHA-256 digests are also accepted for the
   * updated component (rootfs), so an H(e)NB that installed approved software still appraises affirming
   */
  approvedSoftware?: string[];
  /**
   * the OAM's keys that sign the reference values it provides after a verified update (a JWKS, or a JWKS file read
   * at each provide-reference-values); without them every provided statement is refused
   */
  oamJwks?: Jwks | string;
  /** iss of the OAM's statements (default urn:henb-sw-verify:oam) */
  oamIssuer?: string | string[];
  /**
   * NETCONF Call Home (RFC 8071): the PVE's own call-home listener. Devices with `callHome` are reached on the
   * connection they open to it (never dialled), identified by their pinned host key; the PVE collects its
   * evidence itself, without the OAM in the path (docs/operator-guide.md, "Call home").
   */
  callHome?: {
    listen: string | { host: string; port: number };
    /**
     * also NETCONF Call Home over TLS (RFC 8071 section 4): devices with transport tls call this address (port
     * 4335 by default) and are known by their certificate; cert/key is the PVE's client certificate (PEM)
     */
    tls?: { listen: string | { host: string; port: number }; cert: string; key: string; ca?: string };
  };
  /**
   * the TPM manufacturer CAs (PEM certificates) the PVE trusts: with them every trust-root tpm device must be enrolled
   * with an EK certificate that chains to one of them (src/integrity/tpm verifyEkCertificate), else the start (or
   * setDevice) fails with ERR_PVE_DEVICE_KEY naming the device and why; without them EK certificates are not checked
   */
  ekCa?: string[];
  log?: Logger;
}

export interface PveHandle {
  /** https://HOST:PORT */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that signed the server certificate: what clients pin */
  readonly ca: string;
  readonly caPath: string;
  readonly issuer: string;
  readonly audience: string | string[];
  /** the public keys that verify this PVE's tokens */
  readonly jwks: Jwks;
  /** the NETCONF endpoint, when options.netconf was given */
  readonly netconf?: { host: string; port: number; hostKeySha256: string };
  /** the call-home listener's address, when options.callHome was given (tls: its TLS call-home address) */
  readonly callHome?: { host: string; port: number; tls?: { host: string; port: number } };
  /** add accepted digests for a component, for every H(e)NB (a vendor's published values) */
  addReferenceValue(component: string, digest: string): void;
  /** provide-reference-values without a transport: verify and accept one statement of the OAM (RestconfError when refused) */
  provideReferenceValues(jws: string): Promise<void>;
  /**
   * a list statement without a transport: verified once, then each entry taken as a single statement (RestconfError
   * when the whole statement is refused; an entry's refusal is its outcome's error)
   */
  provideReferenceValuesList(jws: string): Promise<SignedListOutcome[]>;
  /** the reference values the OAM provided for an H(e)NB (component -> digests) */
  providedReferenceValues(henbId: string): ReferenceValues;
  /** add or replace a device in the inventory */
  setDevice(device: PveDeviceEntry): void;
  close(): Promise<void>;
}


type HostPort = { host: string; port: number };

export function parseListen(listen: string | HostPort): HostPort {
  if (typeof listen !== 'string') return listen;
  const hp = parseHostPort(listen);
  if (hp === undefined) throw new PveServiceError('ERR_PVE_LISTEN', `listen must be HOST:PORT (got ${JSON.stringify(listen)})`);
  return hp;
}

export async function startPve(options: StartPveOptions): Promise<PveHandle> {
  const log = (options.log ?? silentLogger).child({ component: 'pve' });
  const { host, port } = parseListen(options.listen);
  const issuer = options.issuer ?? 'urn:henb-sw-verify:pve';
  const audience = options.audience ?? 'urn:henb-sw-verify:oam';
  const deviceTimeoutMs = options.deviceTimeoutMs ?? 10_000;
  const tls = await loadOrCreatePveTls(options.dataDir, [host]);
  const signingKey = options.signingKey ?? (await loadOrCreateSigningKey(`${options.dataDir}/keys`, 'pve'));
  const jwks: Jwks = { keys: [signingKey.publicJwk] };
  // devices are enrolled with it below (inventory); it listens once the HTTPS server does
  const callHome = callHomeListenerOf(options, log, deviceTimeoutMs);
  const collector = options.collector ?? netconfEvidenceCollector({ log, timeoutMs: deviceTimeoutMs, connector: connectorVia(callHome) });
  const inventory = new DeviceInventory(callHome, options.ekCa);
  for (const d of options.devices) inventory.set(d);
  const provided = await openProvided(options, issuer, inventory, log);
  const { verifier, references, clocks, relayedNonces } = await openVerifier(options, provided, { inventory, collector, signingKey, log, deviceTimeoutMs, party: { issuer, audience } });
  const verify = verifier.verify.bind(verifier);
  const provide = async (jws: string): Promise<void> => {
    await provided.accept(jws);
  };
  const provideList = async (jws: string): Promise<SignedListOutcome[]> =>
    (await provided.acceptList(jws)).map((r) => ('error' in r ? { index: r.index, error: r.error.entry } : { index: r.index, output: undefined }));
  const { server, sockets } = createRestconfServer({ tls, jwks, verify, provide, provideList, deviceTimeoutMs, log });
  const endpoints = await listenAll(options, server, sockets, { host, port }, callHome, (l) =>
    startPveNetconf({ host: l.host, port: l.port, users: l.users, dataDir: options.dataDir, log, check: checkInputLeaves, verify, provide, provideList }));
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log.info('PVE listening', { url: `https://${urlHost}:${endpoints.port}` });
  return {
    url: `https://${urlHost}:${endpoints.port}`,
    host,
    port: endpoints.port,
    ca: tls.ca,
    caPath: tls.caPath,
    issuer,
    audience,
    jwks,
    ...(endpoints.nc !== undefined ? { netconf: { host: endpoints.nc.host, port: endpoints.nc.port, hostKeySha256: endpoints.nc.hostKeySha256 } } : {}),
    ...(endpoints.callHome !== undefined ? { callHome: endpoints.callHome } : {}),
    addReferenceValue: (component, digest) => references.add(component, digest),
    setDevice: (d) => inventory.set(d),
    provideReferenceValues: provide,
    provideReferenceValuesList: provideList,
    providedReferenceValues: (henbId) => provided.valuesFor(henbId),
    close: closeOnce(verifier, { clocks, provided, relayedNonces }, server, sockets, { nc: endpoints.nc, collector, callHome }),
  };
}

/** the PVE's own call-home listener (SSH, and TLS when configured), when options.callHome is given */
function callHomeListenerOf(options: StartPveOptions, log: Logger, deviceTimeoutMs: number): CallHomeListener | undefined {
  const chTls = options.callHome?.tls;
  return options.callHome ? createCallHomeListener({
    ...parseListen(options.callHome.listen), log, handshakeTimeoutMs: deviceTimeoutMs,
    ...(chTls !== undefined ? { tls: { ...parseListen(chTls.listen), cert: chTls.cert, key: chTls.key, ...(chTls.ca !== undefined ? { ca: chTls.ca } : {}) } } : {}),
  }) : undefined;
}

/** the core that collects, appraises and signs, with its reference values: the PVE's own, approved software's, the OAM's */
async function openVerifier(
  options: StartPveOptions, provided: ProvidedReferenceValues,
  p: Pick<VerifierParts, 'inventory' | 'collector' | 'signingKey' | 'log' | 'deviceTimeoutMs' | 'party'>,
): Promise<{ verifier: PveVerifier; references: PveReferences; clocks: TpmClocks; relayedNonces: NonceMemory }> {
  const { inventory, collector, signingKey, log, deviceTimeoutMs, party } = p;
  // the last TPM clock of each TPM-rooted device (rebooted claim, clock going backwards refused)
  const clocks = await openTpmClocks({ dataDir: options.dataDir, log });
  const approved = approvedSoftware(options.approvedSoftware ?? [], (path, err) => log.warn('approved software unreadable', { path, err }));
  const references = new PveReferences(options.referenceValues, approved, provided);
  // the nonces of relayed evidence appraised within the last hour, kept across restarts
  const relayedNonces = await openNonceMemory({ dataDir: options.dataDir, log, windowMs: DEFAULT_NONCE_WINDOW_MS, max: DEFAULT_NONCES_REMEMBERED });
  const verifier = new PveVerifier({
    inventory, references, collector, signingKey, log, deviceTimeoutMs, clocks, relayedNonces, bindings: new AkBindings(log),
    limit: new ConcurrencyLimit(options.maxConcurrent ?? 64),
    party,
    ttlSec: options.tokenTtlSec ?? 300,
  });
  return { verifier, references, clocks, relayedNonces };
}

/**
 * the handle's close(), done once: collections aborted, then HTTPS, NETCONF, the collector, call home closed in turn;
 * last, the TPM clocks' journal folded into clocks.json (no appraisal can record one any more), and the records' files
 * (provided reference values, relayed nonces) closed
 */
function closeOnce(
  verifier: PveVerifier, { clocks, provided, relayedNonces }: { clocks: TpmClocks; provided: ProvidedReferenceValues; relayedNonces: NonceMemory },
  server: Server, sockets: Set<Socket>,
  { nc, collector, callHome }: { nc: PveNetconf | undefined; collector: EvidenceCollector; callHome: CallHomeListener | undefined },
): () => Promise<void> {
  let closed: Promise<void> | undefined;
  return () => {
    closed ??= (async () => {
      verifier.abortAll();
      await closeServer(server, sockets);
      await nc?.server.close();
      await collector.close?.();
      await callHome?.close();
      await clocks.close();
      await provided.close();
      await relayedNonces.close();
    })();
    return closed;
  };
}

/** call-home devices are reached on the connection they opened to this PVE; the others are dialled */
function connectorVia(callHome: CallHomeListener | undefined): DeviceConnector {
  return (target, o) => (target.callHome === true && callHome !== undefined ? callHome.connect(target, o) : connectDevice(target, o));
}

function openProvided(options: StartPveOptions, issuer: string, inventory: DeviceInventory, log: Logger): Promise<ProvidedReferenceValues> {
  return openProvidedReferenceValues({
    dataDir: options.dataDir, audience: issuer, knownHenb: (id) => inventory.has(id), log,
    ...(options.oamJwks !== undefined ? { oamJwks: options.oamJwks } : {}),
    ...(options.oamIssuer !== undefined ? { oamIssuer: options.oamIssuer } : {}),
  });
}

type PveNetconf = Awaited<ReturnType<typeof startPveNetconf>>;

/**
 * Listen in order: HTTPS, then the NETCONF endpoint, then the call-home listener; a failure closes what already
 * listens (ERR_PVE_LISTEN unless the part's own error says more).
 */
async function listenAll(
  options: StartPveOptions, server: Server, sockets: Set<Socket>, at: HostPort, callHome: CallHomeListener | undefined,
  startNetconf: (l: HostPort & { users: UserEntry[] }) => Promise<PveNetconf>,
): Promise<{ port: number; nc?: PveNetconf; callHome?: HostPort }> {
  await listenHttps(server, at);
  const port = (server.address() as AddressInfo).port;
  let nc: PveNetconf | undefined;
  if (options.netconf) {
    try {
      nc = await startNetconf({ ...parseListen(options.netconf.listen), users: options.netconf.users });
    } catch (e) {
      await closeServer(server, sockets);
      throw e instanceof HsvError ? e : new PveServiceError('ERR_PVE_LISTEN', `cannot start the PVE NETCONF endpoint: ${(e as Error).message}`, { cause: e });
    }
  }
  if (!callHome) return { port, ...(nc !== undefined ? { nc } : {}) };
  try {
    return { port, ...(nc !== undefined ? { nc } : {}), callHome: await callHome.listen() };
  } catch (e) {
    await closeServer(server, sockets);
    await nc?.server.close();
    throw e;
  }
}

async function listenHttps(server: Server, { host, port }: HostPort): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new PveServiceError('ERR_PVE_LISTEN', `cannot listen on ${host}:${port}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}
