/**
 * The reference PVE (Platform Validation Entity): a RESTCONF server (RFC 8040) over HTTPS exposing
 * POST /restconf/operations/henb-sw-verify-pve:integrity-request with RFC 7951 JSON. On a request it
 * collects evidence from the H(e)NB (integrity-measurement over NETCONF with its OWN fresh nonce), checks the
 * device signature with the device public key, replays the measurement log, compares the components with
 * its reference values, and answers with a signed EAR token (src/tokens signResult) whose eat_nonce is the
 * requester's nonce-value (as base64url).
 *
 * Also served: GET /.well-known/host-meta (RFC 8040 section 3.1), GET /restconf (the API root) and
 * GET /jwks.json (the result-signing keys).
 */
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { HsvError } from '../errors.js';
import { parseHostPort } from '../host-port.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { SOFTWARE_COMPONENT as UPDATED_COMPONENT } from '../integrity/index.js';
import type { ReferenceValues } from '../integrity/index.js';
import { approvedSoftware } from './approved.js';
import { loadOrCreateSigningKey, signResult } from '../tokens/index.js';
import type { EarClaims, Jwks, SigningKey } from '../tokens/index.js';
import { appraiseCompletion, appraiseEvidence } from './appraise.js';
import type { Appraisal, CompletionInput, DeviceEvidence } from './appraise.js';
import { appraiseTpmCompletion, appraiseTpmEvidence } from './appraise-tpm.js';
import { parseAkPublic } from '../integrity/tpm/index.js';
import type { TpmPublic } from '../integrity/tpm/index.js';
import { loadOrCreatePveTls } from './tls.js';
import {
  INPUT_MEMBER, INTEGRITY_REQUEST_PATH, JWKS_PATH, OUTPUT_MEMBER, PROVIDE_INPUT_MEMBER, PROVIDE_REFERENCE_VALUES_PATH, PVE_MODULE, RestconfError, YANG_JSON,
  base64ToBase64url, decodeBase64Strict, errorsDocument,
} from './restconf.js';
import { checkProvideLeaves, openProvidedReferenceValues } from './provided.js';
import type { RestconfErrorEntry } from './restconf.js';
import { netconfEvidenceCollector } from './collector.js';
import { MODULE_PATH_PREFIX, YANG_LIBRARY_REVISION, YANG_XML, errorsXml, jsonToXml, moduleText, modulesState, negotiate, pruneDepth, yangLibrary } from './restconf-resources.js';
import { connectDevice, createCallHomeListener } from '../device/index.js';
import type { CallHomeListener, DeviceConnector } from '../device/index.js';
import { startPveNetconf } from './netconf-endpoint.js';
import type { UserEntry } from '../netconf/server/index.js';
import type { EvidenceCollector, IntegrityInput, IntegrityOutput, PveDeviceEntry } from './types.js';

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
  callHome?: { listen: string | { host: string; port: number } };
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
  /** the call-home listener's address, when options.callHome was given */
  readonly callHome?: { host: string; port: number };
  /** add accepted digests for a component, for every H(e)NB (a vendor's published values) */
  addReferenceValue(component: string, digest: string): void;
  /** provide-reference-values without a transport: verify and accept one statement of the OAM (RestconfError when refused) */
  provideReferenceValues(jws: string): Promise<void>;
  /** the reference values the OAM provided for an H(e)NB (component -> digests) */
  providedReferenceValues(henbId: string): ReferenceValues;
  /** add or replace a device in the inventory */
  setDevice(device: PveDeviceEntry): void;
  close(): Promise<void>;
}

export type PveServiceErrorCode = 'ERR_PVE_CLOSED' | 'ERR_PVE_DEVICE_KEY' | 'ERR_PVE_DEVICE_TIMEOUT' | 'ERR_PVE_LISTEN' | 'ERR_PVE_PROVIDED_FILE';

export class PveServiceError extends HsvError<PveServiceErrorCode> {}

const HENB_ID = /^[0-9A-Za-z][-.0-9A-Z_a-z]*$/;
const JOB_ID = /^[0-9A-Za-z][-.0-9:A-Z_a-z]*$/;
const MAX_BODY = 64 * 1024;
const VERIFIER_ID = { developer: 'henb-sw-verify', build: 'pve/0.1.0' };

export function parseListen(listen: string | { host: string; port: number }): { host: string; port: number } {
  if (typeof listen !== 'string') return listen;
  const hp = parseHostPort(listen);
  if (hp === undefined) throw new PveServiceError('ERR_PVE_LISTEN', `listen must be HOST:PORT (got ${JSON.stringify(listen)})`);
  return hp;
}

/** A device of the inventory with its parsed keys: the software evidence key, and the TPM AK when enrolled. */
interface Enrolled {
  entry: PveDeviceEntry;
  key: KeyObject;
  ak?: TpmPublic;
}

/**
 * Step 3's appraisal by trust root: a device enrolled with a TPM AK must answer with a quote by that AK (the
 * TIM and log the token names are then the quote's); a software-key device with its key's signature.
 */
function appraisePreUpdate(evidence: DeviceEvidence, nonce: Buffer, dev: Enrolled, refs: ReferenceValues): {
  appraisal: Appraisal; format: 'software-key' | 'tpm2-quote'; tim: string; log: DeviceEvidence['log']; hardware?: number;
} {
  const refused = (reason: string, format: 'software-key' | 'tpm2-quote'): ReturnType<typeof appraisePreUpdate> =>
    ({ appraisal: { status: 'contraindicated', reason: `evidence-invalid: ${reason}`, signatureValid: false, logReplays: false, components: [] }, format, tim: evidence.tim, log: [] });
  if (dev.ak === undefined) {
    if (evidence.format === 'tpm2-quote') return refused(`${dev.entry.henbId} sent a TPM quote but has no enrolled attestation key (its trust root is software-key)`, 'tpm2-quote');
    return { appraisal: appraiseEvidence(evidence, nonce, dev.key, refs), format: 'software-key', tim: evidence.tim, log: evidence.log };
  }
  if (evidence.format !== 'tpm2-quote' || evidence.tpm === undefined) {
    return refused(`${dev.entry.henbId} is enrolled with a TPM attestation key but answered with software-key evidence`, 'software-key');
  }
  const t = evidence.tpm;
  if (t.certificateName.toLowerCase() !== dev.ak.name.toString('hex')) {
    return { ...refused('the quote names another attestation key than the one enrolled for this H(e)NB (certificate-name)', 'tpm2-quote'), hardware: 97 };
  }
  const r = appraiseTpmEvidence({ attest: Buffer.from(t.quote, 'base64'), signature: Buffer.from(t.signature, 'base64'), log: Buffer.from(t.eventLog, 'base64') }, nonce, dev.ak, refs);
  // what the token states is what the TPM vouched for, not the unsigned leaves beside the quote
  return { appraisal: r, format: 'tpm2-quote', tim: r.tim ?? evidence.tim, log: r.measurements, hardware: r.hardware };
}

export async function startPve(options: StartPveOptions): Promise<PveHandle> {
  const log = (options.log ?? silentLogger).child({ component: 'pve' });
  const { host, port } = parseListen(options.listen);
  const issuer = options.issuer ?? 'urn:henb-sw-verify:pve';
  const audience = options.audience ?? 'urn:henb-sw-verify:oam';
  const ttl = options.tokenTtlSec ?? 300;
  const deviceTimeoutMs = options.deviceTimeoutMs ?? 10_000;
  const tls = await loadOrCreatePveTls(options.dataDir, [host]);
  const signingKey = options.signingKey ?? (await loadOrCreateSigningKey(`${options.dataDir}/keys`, 'pve'));
  const jwks: Jwks = { keys: [signingKey.publicJwk] };
  let callHome: CallHomeListener | undefined;
  let callHomeAddr: { host: string; port: number } | undefined;
  if (options.callHome) {
    const l = parseListen(options.callHome.listen);
    // devices are enrolled below (setDevice); it listens once the HTTPS server does
    callHome = createCallHomeListener({ host: l.host, port: l.port, log, handshakeTimeoutMs: deviceTimeoutMs });
  }
  const ch = callHome;
  // call-home devices are reached on the connection they opened to this PVE; the others are dialled
  const connector: DeviceConnector = (target, o) => (target.callHome === true && ch !== undefined ? ch.connect(target, o) : connectDevice(target, o));
  const collector = options.collector ?? netconfEvidenceCollector({ log, timeoutMs: deviceTimeoutMs, connector });
  const references: ReferenceValues = Object.fromEntries(
    Object.entries(options.referenceValues).map(([k, v]) => [k, [...v]]));
  const devices = new Map<string, Enrolled>();
  const setDevice = (d: PveDeviceEntry): void => {
    let key: KeyObject;
    try {
      key = createPublicKey(d.devicePublicKey);
    } catch (e) {
      throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: devicePublicKey is not a public key PEM`, { cause: e });
    }
    const trustRoot = d.trustRoot ?? (d.akPublic !== undefined ? 'tpm' : 'software-key');
    let ak: TpmPublic | undefined;
    if (trustRoot === 'tpm') {
      if (d.akPublic === undefined) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: trust root tpm needs akPublic (the AK's TPM2B_PUBLIC, base64)`);
      const parsed = parseAkPublic(Buffer.from(d.akPublic, 'base64'));
      if (!parsed.ok) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: akPublic is not an attestation key: ${parsed.reason}`);
      ak = parsed.value;
    }
    if (d.callHome === true && callHome !== undefined) {
      if (d.hostKeySha256 === undefined) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: a call-home device needs its pinned host key`);
      callHome.setDevice({
        henbId: d.henbId, hostKeySha256: d.hostKeySha256, username: d.username,
        ...(d.password !== undefined ? { password: d.password } : {}),
        ...(d.privateKey !== undefined ? { privateKey: d.privateKey } : {}),
      });
    }
    devices.set(d.henbId, { entry: { ...d, trustRoot }, key, ...(ak !== undefined ? { ak } : {}) });
  };
  for (const d of options.devices) setDevice(d);
  const approved = approvedSoftware(options.approvedSoftware ?? [], (path, err) => log.warn('approved software unreadable', { path, err }));
  const referencesNow = async (): Promise<ReferenceValues> => {
    const extra = await approved.digests();
    if (extra.length === 0) return references;
    const merged = { ...references };
    merged[UPDATED_COMPONENT] = [...new Set([...(references[UPDATED_COMPONENT] ?? []), ...extra])];
    return merged;
  };
  const provided = await openProvidedReferenceValues({
    dataDir: options.dataDir, audience: issuer, knownHenb: (id) => devices.has(id), log,
    ...(options.oamJwks !== undefined ? { oamJwks: options.oamJwks } : {}),
    ...(options.oamIssuer !== undefined ? { oamIssuer: options.oamIssuer } : {}),
  });
  /** the PVE's own reference values, plus those the OAM provided for this H(e)NB */
  const referencesFor = async (henbId: string): Promise<ReferenceValues> => {
    const base = await referencesNow();
    const own = provided.valuesFor(henbId);
    if (Object.keys(own).length === 0) return base;
    const merged = { ...base };
    for (const [component, digests] of Object.entries(own)) merged[component] = [...new Set([...(base[component] ?? []), ...digests])];
    return merged;
  };

  const inflight = new Set<AbortController>();
  const sockets = new Set<Socket>();

  const maxConcurrent = Math.max(1, options.maxConcurrent ?? 64);
  let running = 0;
  const waiting: Array<() => void> = [];
  async function slot(): Promise<() => void> {
    if (running >= maxConcurrent) {
      if (waiting.length >= maxConcurrent * 16) {
        throw new RestconfError({ 'error-type': 'application', 'error-tag': 'resource-denied', 'error-message': 'the PVE is overloaded; retry later' }, 503);
      }
      await new Promise<void>((r) => waiting.push(r));
    }
    running++;
    return () => {
      running--;
      waiting.shift()?.();
    };
  }

  /** The transport-neutral core: collect, appraise, sign. Errors are RestconfError (tag, app-tag, path). */
  async function verify(input: IntegrityInput): Promise<IntegrityOutput> {
    const dev = devices.get(input.henbId);
    if (!dev) {
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'unknown-henb',
        'error-path': '/henb-sw-verify-pve:integrity-request/input/henb-id', 'error-message': `unknown H(e)NB ${input.henbId}` });
    }
    if (input.completion !== undefined) return appraisePostUpdate(input, input.completion, dev);
    const ours = randomBytes(32);
    const ac = new AbortController();
    inflight.add(ac);
    const release = await slot().catch((e: unknown) => {
      inflight.delete(ac);
      throw e;
    });
    const timer = setTimeout(() => ac.abort(new PveServiceError('ERR_PVE_DEVICE_TIMEOUT', 'the H(e)NB did not answer in time')), deviceTimeoutMs);
    let evidence: DeviceEvidence;
    try {
      evidence = await collector.collect(dev.entry, ours, ac.signal);
    } catch (e) {
      log.warn('evidence collection failed', { henbId: input.henbId, err: e });
      const code = (e as { code?: unknown }).code;
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'operation-failed', 'error-app-tag': 'henb-unreachable',
        'error-message': `cannot collect evidence from ${input.henbId}` + (typeof code === 'string' ? ` (${code})` : '') });
    } finally {
      clearTimeout(timer);
      inflight.delete(ac);
      release();
    }
    const { appraisal, format, tim, log: appraisedLog, hardware } = appraisePreUpdate(evidence, ours, dev, await referencesFor(input.henbId));
    const claims = {
      iss: issuer,
      aud: audience,
      sub: input.henbId,
      ear_status: appraisal.status,
      ear_verifier_id: VERIFIER_ID,
      eat_nonce: base64ToBase64url(input.nonceText),
      submods: {
        platform: {
          ear_status: appraisal.status,
          // job-id is optional in the YANG input: absent there, absent here (never an empty string)
          ...(input.jobId !== undefined ? { 'job-id': input.jobId } : {}),
          phase: 'pre-update' as const,
          'reported-tim': tim,
          'evidence-format': format,
          ...(hardware !== undefined ? { ear_trustworthiness_vector: { hardware } } : {}),
          ...(appraisal.signatureValid ? { 'measurement-log': appraisedLog.map((e) => ({ component: e.component, digest: e.digest })) } : {}),
          components: appraisal.components,
          ...(evidence.softwareVersion !== undefined ? { 'software-version': evidence.softwareVersion } : {}),
          ...(appraisal.firstMismatch !== undefined ? { 'first-mismatch': appraisal.firstMismatch } : {}),
          ...(appraisal.reason !== undefined ? { reason: appraisal.reason } : {}),
        },
      },
    } satisfies Partial<EarClaims>;
    const token = await signResult(claims, signingKey, { ttlSec: ttl });
    log.info('integrity-request appraised', { henbId: input.henbId, jobId: input.jobId, evidenceFormat: format, earStatus: appraisal.status, reason: appraisal.reason });
    const out: IntegrityOutput = { earStatus: appraisal.status, token };
    if (appraisal.reason !== undefined) out.reason = appraisal.reason;
    return out;
  }

  /** Phase post-update: the completion's evidence, appraised as given (nothing is collected from the device). */
  async function appraisePostUpdate(input: IntegrityInput, completion: CompletionInput, dev: Enrolled): Promise<IntegrityOutput> {
    const jobId = input.jobId as string;
    const ctx = { henbId: input.henbId, jobId, nonce: input.nonce };
    let appraisal: Appraisal;
    let hardware: number | undefined;
    if (dev.ak !== undefined) {
      // trust root tpm: only a quote by the enrolled AK counts (a software-key completion is a downgrade)
      if (completion.evidence.format !== 'tpm2-quote') {
        appraisal = { status: 'contraindicated', reason: `evidence-invalid: ${input.henbId} is enrolled with a TPM attestation key; ${completion.evidence.format} evidence is not accepted from it`, signatureValid: false, logReplays: false, components: [] };
      } else {
        const r = appraiseTpmCompletion(completion, ctx, dev.ak);
        appraisal = r;
        hardware = r.hardware;
      }
    } else if (completion.evidence.format === 'tpm2-quote') {
      appraisal = { status: 'contraindicated', reason: `evidence-invalid: ${input.henbId} has no enrolled TPM attestation key (its trust root is software-key)`, signatureValid: false, logReplays: false, components: [] };
    } else {
      appraisal = appraiseCompletion(completion, ctx, dev.key);
    }
    const claims = {
      iss: issuer,
      aud: audience,
      sub: input.henbId,
      ear_status: appraisal.status,
      ear_verifier_id: VERIFIER_ID,
      eat_nonce: base64ToBase64url(input.nonceText),
      submods: {
        completion: {
          ear_status: appraisal.status,
          'job-id': jobId,
          phase: 'post-update' as const,
          'evidence-format': completion.evidence.format,
          ...(hardware !== undefined ? { ear_trustworthiness_vector: { hardware } } : {}),
          ...(appraisal.signatureValid ? {
            'reported-tim': completion.tim,
            'measurement-log': completion.log.map((e) => ({ component: e.component, digest: e.digest })),
            ...(completion.softwareVersion !== undefined ? { 'software-version': completion.softwareVersion } : {}),
          } : {}),
          ...(appraisal.reason !== undefined ? { reason: appraisal.reason } : {}),
        },
      },
    } satisfies Partial<EarClaims>;
    const token = await signResult(claims, signingKey, { ttlSec: ttl });
    log.info('completion appraised', { henbId: input.henbId, jobId, earStatus: appraisal.status, reason: appraisal.reason });
    const out: IntegrityOutput = { earStatus: appraisal.status, token };
    if (appraisal.reason !== undefined) out.reason = appraisal.reason;
    return out;
  }

  async function integrityRequest(body: unknown): Promise<Record<string, unknown>> {
    const r = await verify(readInput(body));
    const out: Record<string, unknown> = { 'ear-status': r.earStatus, 'attestation-result': r.token };
    if (r.reason !== undefined) out.reason = r.reason;
    return { [OUTPUT_MEMBER]: out };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://pve.invalid');
    const path = url.pathname;
    if (path === '/.well-known/host-meta') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      send(res, 200, 'application/xrd+xml',
        "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  <Link rel='restconf' href='/restconf'/>\n</XRD>\n");
      return;
    }
    if (path === JWKS_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      send(res, 200, 'application/jwk-set+json', JSON.stringify(jwks));
      return;
    }
    if (path === '/restconf' || path.startsWith('/restconf/')) {
      if (path !== INTEGRITY_REQUEST_PATH && path !== PROVIDE_REFERENCE_VALUES_PATH) {
        serveResource(req, res, path, url.searchParams);
        return;
      }
    }
    if (path === INTEGRITY_REQUEST_PATH) {
      if (req.method === 'OPTIONS') return void sendOptions(res, 'POST, OPTIONS');
      if (req.method !== 'POST') throw methodNotAllowed('POST, OPTIONS');
      noQuery(url.searchParams);
      const out = await integrityRequest(await readJson(req));
      send(res, 200, YANG_JSON, JSON.stringify(out));
      return;
    }
    if (path === PROVIDE_REFERENCE_VALUES_PATH) {
      if (req.method === 'OPTIONS') return void sendOptions(res, 'POST, OPTIONS');
      if (req.method !== 'POST') throw methodNotAllowed('POST, OPTIONS');
      noQuery(url.searchParams);
      const jws = readProvideInput(await readJson(req));
      await provided.accept(jws);
      // RFC 8040 section 3.6.2: an operation without output answers 204
      res.writeHead(204, { 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'no such resource' }, 404);
  }

  /**
   * GET/HEAD/OPTIONS of the RESTCONF resources other than the operation (restconf-resources.ts): the root,
   * data (the YANG library), operations, yang-library-version, module texts. Query parameters `content` and
   * `depth` (RFC 8040 4.8.1, 4.8.2) on data; any other parameter is 400 invalid-value.
   */
  function serveResource(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
    const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const isData = p === '/restconf/data' || p.startsWith('/restconf/data/');
    const known = p === '/restconf' || p === '/restconf/operations' || p === '/restconf/yang-library-version' || isData || p.startsWith(MODULE_PATH_PREFIX) || p.startsWith('/restconf/operations/');
    if (!known) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'no such resource' }, 404);
    if (p.startsWith('/restconf/operations/')) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'unknown operation' }, 404);
    const allow = 'GET, HEAD, OPTIONS';
    if (req.method === 'OPTIONS') return sendOptions(res, allow);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // no configuration datastore here: nothing to create, replace, merge or delete
      throw methodNotAllowed(allow);
    }
    const params = [...query.keys()];
    for (const k of params) {
      if (!isData || (k !== 'content' && k !== 'depth')) throw badQuery(`query parameter ${k} is not supported on this resource`);
      if (query.getAll(k).length > 1) throw badQuery(`query parameter ${k} given more than once`);
    }
    const content = query.get('content') ?? 'all';
    if (!['all', 'config', 'nonconfig'].includes(content)) throw badQuery('content must be config, nonconfig or all');
    const depthText = query.get('depth') ?? 'unbounded';
    const depth = depthText === 'unbounded' ? Infinity : /^[1-9][0-9]{0,4}$/.test(depthText) && Number(depthText) <= 65535 ? Number(depthText) : NaN;
    if (Number.isNaN(depth)) throw badQuery('depth must be 1..65535 or unbounded');

    if (p.startsWith(MODULE_PATH_PREFIX)) {
      const m = /^([A-Za-z_][-A-Za-z0-9_.]*)@(\d{4}-\d{2}-\d{2})$/.exec(decodeURIComponent(p.slice(MODULE_PATH_PREFIX.length)));
      const text = m ? moduleText(m[1]!, m[2]!) : undefined;
      if (text === undefined) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'no such module' }, 404);
      send(res, 200, 'application/yang', text);
      return;
    }
    const enc = negotiate(req.headers.accept);
    if (enc === undefined) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': `not acceptable; this server sends ${YANG_JSON} or ${YANG_XML}` }, 406);
    // module locations under the address the client used (HTTP/1.1 always sends Host)
    const local = req.socket.localAddress ?? '127.0.0.1';
    const hostHeader = req.headers.host;
    const hostOk = hostHeader !== undefined && /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(hostHeader);
    const base = `https://${hostOk ? hostHeader : `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort ?? 0}`}`;
    let member: string;
    let value: unknown;
    if (p === '/restconf') {
      member = 'ietf-restconf:restconf';
      value = { data: {}, operations: {}, 'yang-library-version': YANG_LIBRARY_REVISION };
    } else if (p === '/restconf/operations') {
      member = 'ietf-restconf:operations';
      value = { [`${PVE_MODULE}:integrity-request`]: [null], [`${PVE_MODULE}:provide-reference-values`]: [null] };
    } else if (p === '/restconf/yang-library-version') {
      member = 'ietf-restconf:yang-library-version';
      value = YANG_LIBRARY_REVISION;
    } else {
      // the data: the YANG library only, all of it state (config false)
      const tops: Record<string, unknown> = content === 'config' ? {} : {
        'ietf-yang-library:yang-library': yangLibrary(base),
        'ietf-yang-library:modules-state': modulesState(base),
      };
      const rest = p.slice('/restconf/data'.length).replace(/^\//, '');
      if (rest === '') {
        member = 'ietf-restconf:data';
        value = Object.fromEntries(Object.entries(tops).map(([k, v]) => [k, pruneDepth(v, depth)]));
      } else {
        const target = decodeURIComponent(rest);
        if (!(target in tops)) {
          const exists = target === 'ietf-yang-library:yang-library' || target === 'ietf-yang-library:modules-state';
          throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value',
            'error-message': exists ? 'no configuration data here (content=config)' : 'no such data resource (this PVE serves ietf-yang-library:yang-library and ietf-yang-library:modules-state)' }, 404);
        }
        member = target;
        value = pruneDepth(tops[target], depth);
      }
    }
    if (enc === 'json') send(res, 200, YANG_JSON, JSON.stringify({ [member]: value }));
    else send(res, 200, YANG_XML, jsonToXml(member, value));
  }

  const server: Server = createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      let status = 500;
      let entry: RestconfErrorEntry;
      if (e instanceof RestconfError) {
        status = e.status;
        entry = e.entry;
      } else {
        log.error('integrity-request failed', { err: e });
        entry = { 'error-type': 'application', 'error-tag': 'operation-failed', 'error-message': 'internal error' };
      }
      if (e instanceof RestconfError && e.allow !== undefined) res.setHeader('Allow', e.allow);
      // errors in the encoding the client accepts (RFC 8040 section 7.1); JSON when it accepts neither
      if (res.headersSent) res.destroy();
      else if (negotiate(req.headers.accept) === 'xml') send(res, status, YANG_XML, errorsXml([entry]));
      else send(res, status, YANG_JSON, JSON.stringify(errorsDocument([entry])));
    });
  });
  server.requestTimeout = deviceTimeoutMs + 20_000;
  server.headersTimeout = 20_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (e) => log.debug('TLS client error', { err: e }));
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new PveServiceError('ERR_PVE_LISTEN', `cannot listen on ${host}:${port}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let nc: Awaited<ReturnType<typeof startPveNetconf>> | undefined;
  if (options.netconf) {
    try {
      const l = parseListen(options.netconf.listen);
      nc = await startPveNetconf({
        host: l.host, port: l.port, users: options.netconf.users, dataDir: options.dataDir, log, check: checkInputLeaves, verify,
        provide: async (jws) => { await provided.accept(jws); },
      });
    } catch (e) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw e instanceof HsvError ? e : new PveServiceError('ERR_PVE_LISTEN', `cannot start the PVE NETCONF endpoint: ${(e as Error).message}`, { cause: e });
    }
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  if (callHome) {
    try {
      callHomeAddr = await callHome.listen();
    } catch (e) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await nc?.server.close();
      throw e;
    }
  }
  log.info('PVE listening', { url: `https://${urlHost}:${actual}` });
  let closed: Promise<void> | undefined;
  return {
    url: `https://${urlHost}:${actual}`,
    host,
    port: actual,
    ca: tls.ca,
    caPath: tls.caPath,
    issuer,
    audience,
    jwks,
    ...(nc !== undefined ? { netconf: { host: nc.host, port: nc.port, hostKeySha256: nc.hostKeySha256 } } : {}),
    ...(callHomeAddr !== undefined ? { callHome: callHomeAddr } : {}),
    addReferenceValue(component, digest) {
      const list = references[component] ?? (references[component] = []);
      if (!list.includes(digest)) list.push(digest);
    },
    setDevice,
    async provideReferenceValues(jws) {
      await provided.accept(jws);
    },
    providedReferenceValues: (henbId) => provided.valuesFor(henbId),
    close() {
      closed ??= (async () => {
        for (const ac of inflight) ac.abort(new PveServiceError('ERR_PVE_CLOSED', 'the PVE is shutting down'));
        // queued requests go on with an aborted signal and fail at once
        for (const w of waiting.splice(0)) w();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        await nc?.server.close();
        await collector.close?.();
        await callHome?.close();
      })();
      return closed;
    },
  };
}

/** an operation takes no query parameter (RFC 8040 4.8) */
function noQuery(query: URLSearchParams): void {
  const first = [...query.keys()][0];
  if (first !== undefined) throw badQuery(`no query parameter applies to an operation: ${first}`);
}

/** 400 invalid-value for a query parameter (RFC 8040 4.8: an unexpected one is an error) */
function badQuery(message: string): RestconfError {
  return new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': message }, 400);
}

/** OPTIONS (RFC 8040 section 4.1): the methods a resource allows */
function sendOptions(res: ServerResponse, allow: string): void {
  res.writeHead(200, { Allow: allow, 'Content-Length': 0, 'Cache-Control': 'no-store' });
  res.end();
}

function methodNotAllowed(allow: string): RestconfError {
  const e = new RestconfError({ 'error-type': 'protocol', 'error-tag': 'operation-not-supported', 'error-message': `method not allowed; use ${allow}` }, 405);
  e.allow = allow;
  return e;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** A POST body of media type yang-data+json (or json), parsed. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const ctype = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (ctype !== YANG_JSON && ctype !== 'application/json') {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value',
      'error-message': `unsupported media type; use ${YANG_JSON}` }, 415);
  }
  const raw = await readBody(req);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'malformed-message', 'error-message': 'the body is not JSON' });
  }
}

/** provide-reference-values' input: exactly the leaf reference-values (a string). */
function readProvideInput(body: unknown): string {
  const BASE_P = '/henb-sw-verify-pve:provide-reference-values/input';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('malformed-message', `the body must be an object with member "${PROVIDE_INPUT_MEMBER}"`);
  const stray = Object.keys(body).find((k) => k !== PROVIDE_INPUT_MEMBER);
  if (stray !== undefined) throw bad('unknown-element', `unknown member "${stray}"`, `/${stray}`);
  const input = (body as Record<string, unknown>)[PROVIDE_INPUT_MEMBER];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw bad('malformed-message', `the body must be an object with member "${PROVIDE_INPUT_MEMBER}"`);
  return checkProvideLeaves(input as Record<string, unknown>, BASE_P);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > MAX_BODY) {
      throw new RestconfError({ 'error-type': 'transport', 'error-tag': 'too-big', 'error-message': `the body exceeds ${MAX_BODY} bytes` });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

const BASE = '/henb-sw-verify-pve:integrity-request/input';
function bad(tag: string, message: string, path?: string): RestconfError {
  const entry: RestconfErrorEntry = { 'error-type': 'protocol', 'error-tag': tag, 'error-message': message };
  if (path !== undefined) entry['error-path'] = path;
  return new RestconfError(entry);
}

/** Check the leaves of an integrity-request input (RESTCONF JSON members or NETCONF leaf texts). */
export function checkInputLeaves(rec: Record<string, unknown>): IntegrityInput {
  for (const k of Object.keys(rec)) {
    if (k !== 'henb-id' && k !== 'nonce-value' && k !== 'job-id' && k !== 'completion') throw bad('unknown-element', `unknown input leaf "${k}"`, `${BASE}/${k}`);
  }
  const henbId = rec['henb-id'];
  if (henbId === undefined) throw bad('missing-element', 'henb-id is mandatory', `${BASE}/henb-id`);
  if (typeof henbId !== 'string' || henbId.length > 64 || !HENB_ID.test(henbId)) {
    throw bad('invalid-value', 'henb-id must be 1..64 characters [0-9A-Za-z][-.0-9A-Z_a-z]*', `${BASE}/henb-id`);
  }
  const nonceText = rec['nonce-value'];
  if (nonceText === undefined) throw bad('missing-element', 'nonce-value is mandatory', `${BASE}/nonce-value`);
  const nonce = typeof nonceText === 'string' ? decodeBase64Strict(nonceText) : undefined;
  if (typeof nonceText !== 'string' || !nonce || nonce.length < 16 || nonce.length > 64) {
    throw bad('invalid-value', 'nonce-value must be base64 of 16..64 octets', `${BASE}/nonce-value`);
  }
  const jobId = rec['job-id'];
  if (jobId !== undefined && (typeof jobId !== 'string' || jobId.length > 64 || !JOB_ID.test(jobId))) {
    throw bad('invalid-value', 'job-id must be 1..64 characters [0-9A-Za-z][-.0-9:A-Z_a-z]*', `${BASE}/job-id`);
  }
  const out: IntegrityInput = { henbId, nonce, nonceText };
  if (jobId !== undefined) out.jobId = jobId as string;
  if (rec.completion !== undefined) {
    if (jobId === undefined) throw bad('missing-element', 'job-id is mandatory with completion', `${BASE}/job-id`);
    out.completion = checkCompletion(rec.completion);
  }
  return out;
}

const C = `${BASE}/completion`;
const HEX64 = /^[0-9a-f]{64}$/;

/** The completion container (RFC 7951 JSON shape; the NETCONF endpoint converts its XML to it). */
export function checkCompletion(v: unknown): CompletionInput {
  const obj = (x: unknown, path: string): Record<string, unknown> => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw bad('invalid-value', `${path.split('/').pop() ?? ''} must be a container`, path);
    return x as Record<string, unknown>;
  };
  const str = (o: Record<string, unknown>, k: string, path: string, mandatory: boolean): string | undefined => {
    const x = o[k];
    if (x === undefined) {
      if (mandatory) throw bad('missing-element', `${k} is mandatory`, `${path}/${k}`);
      return undefined;
    }
    if (typeof x !== 'string') throw bad('invalid-value', `${k} must be a string`, `${path}/${k}`);
    return x;
  };
  const c = obj(v, C);
  for (const k of Object.keys(c)) {
    if (!['status', 'self-check', 'software-version', 'tim', 'measurement-log', 'evidence'].includes(k)) throw bad('unknown-element', `unknown leaf "${k}"`, `${C}/${k}`);
  }
  const tim = str(c, 'tim', C, true) as string;
  if (!HEX64.test(tim)) throw bad('invalid-value', 'tim must be 64 lowercase hex digits', `${C}/tim`);
  const entries = c['measurement-log'] === undefined ? [] : obj(c['measurement-log'], `${C}/measurement-log`).entry;
  if (entries !== undefined && !Array.isArray(entries)) throw bad('invalid-value', 'measurement-log entry must be a list', `${C}/measurement-log/entry`);
  const log = (entries ?? []).map((e: unknown) => {
    const o = obj(e, `${C}/measurement-log/entry`);
    const component = o.component;
    const digest = o.digest;
    const index = Number(o.index);
    if (typeof component !== 'string' || component === '' || typeof digest !== 'string' || !HEX64.test(digest) || !Number.isInteger(index) || index < 0) {
      throw bad('invalid-value', 'a measurement-log entry needs index, component and a 64-hex digest', `${C}/measurement-log/entry`);
    }
    return { index, component, digest };
  }).sort((a, b) => a.index - b.index).map(({ component, digest }) => ({ component, digest }));
  const ev = obj(c.evidence ?? (() => { throw bad('missing-element', 'evidence is mandatory', `${C}/evidence`); })(), `${C}/evidence`);
  const E = `${C}/evidence`;
  const evidence: CompletionInput['evidence'] = {
    format: str(ev, 'evidence-format', E, true) as string,
    nonce: str(ev, 'nonce-value', E, true) as string,
    signatureAlgorithm: str(ev, 'signature-algorithm', E, true) as string,
    signature: str(ev, 'signature', E, true) as string,
  };
  const keyId = str(ev, 'key-id', E, false);
  if (keyId !== undefined) evidence.keyId = keyId;
  const quote = str(ev, 'quote', E, false);
  if (quote !== undefined) evidence.quote = quote;
  const eventLog = str(ev, 'event-log', E, false);
  if (eventLog !== undefined) evidence.eventLog = eventLog;
  const out: CompletionInput = { status: str(c, 'status', C, true) as string, tim, log, evidence };
  const selfCheck = str(c, 'self-check', C, false);
  if (selfCheck !== undefined) out.selfCheck = selfCheck;
  const version = str(c, 'software-version', C, false);
  if (version !== undefined) out.softwareVersion = version;
  return out;
}

function readInput(body: unknown): IntegrityInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('malformed-message', `the body must be an object with member "${INPUT_MEMBER}"`);
  }
  const members = Object.keys(body);
  const stray = members.find((k) => k !== INPUT_MEMBER);
  if (stray !== undefined) throw bad('unknown-element', `unknown member "${stray}"`, `/${stray}`);
  const input = (body as Record<string, unknown>)[INPUT_MEMBER];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bad('malformed-message', `the body must be an object with member "${INPUT_MEMBER}"`);
  }
  return checkInputLeaves(input as Record<string, unknown>);
}
