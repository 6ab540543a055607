/**
 * The OAM plugin's northbound NETCONF adapter: the henb-sw-verify RPCs (integrity-request, software-update,
 * completion-tim), the operational state (henbs, jobs, signing-keys) and the notifications
 * (software-update-progress, software-update-result, integrity-alarm on the `henb-sw-verify` stream), all
 * registered through the NetconfRegistry of the plugin contract. The nine steps themselves run in the
 * JobRunner (src/oam).
 *
 * Wire names stay kebab-case; XML is built with the XML layer's el/leaf, matched by namespace URI.
 */
import { createReadStream } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, basename, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { NetconfError } from '../plugin/contract.js';
import type { NetconfRegistry, RpcErrorInfo } from '../plugin/contract.js';
import { child, childText, childrenNamed, el, leaf, textOf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { parseSoftwareUri } from '../integrity/index.js';
import { DeviceWireError, parseTpm20Attestation } from '../device/index.js';
import type { Store, JobRecord } from '../store/index.js';
import type { Jwks } from '../tokens/index.js';
import type { PveEvidenceMode, SavedState } from '../oam/index.js';
import { CompletionRefused, JobRunner, STATE_STEP, STEP, isDigest, isTerminal, kindOf, oamErrorCode, systemClock } from '../oam/index.js';
import type {
  CompletionEvidence, Clock, DeviceCompletion, DeviceDriver, Job, Measure, MeasurementLogEntry, OamEvents, PveClient, ResultTokens, SoftwareFetcher, SoftwareManifestCheck,
  Step, StepTimeouts, StartRequest,
} from '../oam/index.js';
import { errorCode } from '../errors.js';
import { FileCache } from '../file-cache.js';

export const HSV_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
export const HSV_PREFIX = 'hsv';
export const HSV_STREAM = 'henb-sw-verify';
/** the prefix of the software-update reply's job entries (declared once, on the rpc-reply) */
const JOB_NS_CONTEXT: Readonly<Record<string, string>> = Object.freeze({ [HSV_PREFIX]: HSV_NS });
/**
 * jobs of one software-update request started at the same time: each start is two reads and the job's insert, and
 * with group commit the inserts under way together share one COMMIT, so the reply to a request naming thousands of
 * H(e)NBs comes after a few groups rather than one group per 16 (bench/fleet.ts, 1,000 devices: 1.2 s -> 0.6 s)
 */
const START_CONCURRENCY = 256;
/**
 * how long a software-update waits for the digest of an http(s) image before it starts the jobs anyway (they
 * check it); a download still running then goes on in the background (within the fetch step's timeout) and
 * fills the cache that the next request (the next wave) finds
 */
const PRECHECK_MS = 20_000;

/** Default policies of software updates (YANG /hsv:policies; plugin config `policies`). */
export interface OamPolicies {
  /** ask devices to self-check (default true) */
  selfCheck?: boolean;
  /** measures on mismatch (default ['alarm', 'rollback']); quarantine is applied whatever this says */
  onMismatch?: Measure[];
  /** seconds one step may take (default 300) */
  stepTimeoutSec?: number;
  /** seconds the PVE step may take (default 30; YANG /hsv:pve/hsv:timeout) */
  pveTimeoutSec?: number;
}

export interface OamServiceOptions {
  /** told of every job that reached its final state, of any kind, with its saved states when known (metrics; OamEvents.result) */
  onResult?: (job: Job, saved?: readonly SavedState[]) => void;
  store: Store;
  pve: PveClient;
  devices: DeviceDriver;
  fetcher: SoftwareFetcher;
  /** policy require-signed-software (see RunnerOptions.softwareManifest) */
  softwareManifest?: SoftwareManifestCheck;
  tokens: ResultTokens;
  newNonce: () => string;
  /** the H(e)NB ids the OAM manages (config inventory); the running config's /hsv:inventory adds to it */
  inventory: () => Iterable<string>;
  policies?: OamPolicies;
  /** the JWKS that verifies the OAM's tokens (published as /hsv:signing-keys/hsv:jwks) */
  jwks: () => Jwks | Promise<Jwks>;
  clock?: Clock;
  log?: Logger;
  /** per-step timeouts in ms, overriding the policies (tests) */
  timeouts?: Partial<StepTimeouts>;
  updatedComponent?: string;
  /** file: software URIs must name a file inside this directory (real path); checked before any job starts */
  fileRoot?: string;
  /**
   * Confine the software source (the composition root always sets it): file: URIs need `fileRoot`, http(s)
   * URIs must pass `allowHttpUrl` (config software.allow); otherwise refused before any job starts
   */
  confineSoftware?: { allowHttpUrl: (url: URL) => boolean };
  /** this instance's id and job lease time (several instances on one store; see RunnerOptions) */
  instanceId?: string;
  leaseMs?: number;
  /** jobs driven at once (RunnerOptions.maxActiveJobs; plugin config jobs.max-active) */
  maxActiveJobs?: number;
  /** step 3's evidence: collected by the PVE (default) or relayed by the OAM (RunnerOptions.pveEvidence; plugin config pve.evidence) */
  pveEvidence?: PveEvidenceMode;
  /** how a device is connected now (/hsv:henbs connection, connected-since); without it every H(e)NB is not-connected */
  connections?: (henbId: string) => HenbConnection | undefined;
}

/** How an H(e)NB is connected now: dialled by the OAM, or called home (RFC 8071), since epoch ms. */
export interface HenbConnection {
  kind: 'dialled' | 'called-home';
  since: number;
}

export class OamService {
  readonly runner: JobRunner;
  private registry: NetconfRegistry | undefined;
  private readonly o: OamServiceOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  /** digests of local images (software-update with a sha256), kept until the file changes */
  private readonly digests = localDigests();
  private runningInventory = new Set<string>();

  constructor(options: OamServiceOptions) {
    this.o = options;
    this.log = options.log ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    // progress and result notifications are about software updates: an integrity-check answers its RPC instead.
    // Alarms pass for both kinds: an integrity-check raises one only when it refuses an affirming verdict because
    // the H(e)NB runs other software than the version recorded for it (a downgrade outside the OAM, issue 10)
    const updates = (job: Job): boolean => kindOf(job) === 'software-update';
    const events: OamEvents = {
      progress: (job, step, text) => (updates(job) ? this.emit(progressXml(job, step, text)) : undefined),
      result: (job, saved) => {
        options.onResult?.(job, saved);
        // the job is over: the device driver need not hold a session or a subscription for it any more
        options.devices.release?.(job.henbId, job.jobId);
        return updates(job) ? this.emit(resultXml(job)) : undefined;
      },
      alarm: (job, text) => this.emit(alarmXml(job, text)),
    };
    this.runner = new JobRunner({
      store: options.store, pve: options.pve, devices: options.devices, fetcher: options.fetcher, tokens: options.tokens,
      events, newNonce: options.newNonce, clock: this.clock, log: this.log,
      ...(options.updatedComponent !== undefined ? { updatedComponent: options.updatedComponent } : {}),
      ...(options.softwareManifest !== undefined ? { softwareManifest: options.softwareManifest } : {}),
      ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.maxActiveJobs !== undefined ? { maxActiveJobs: options.maxActiveJobs } : {}),
      ...(options.pveEvidence !== undefined ? { pveEvidence: options.pveEvidence } : {}),
    });
  }

  /** Register RPCs, state and the stream (the module is registered by the plugin). */
  register(registry: NetconfRegistry): void {
    this.registry = registry;
    registry.addStream({ name: HSV_STREAM, description: 'software-update-progress, software-update-result and integrity-alarm notifications', replaySupport: true });
    registry.addRpc(HSV_NS, 'integrity-request', (op) => this.integrityRequest(op));
    registry.addRpc(HSV_NS, 'software-update', (op) => this.softwareUpdate(op));
    registry.addRpc(HSV_NS, 'completion-tim', (op) => this.completionTim(op));
    registry.addState(HSV_NS, 'henbs', () => this.henbsState());
    registry.addState(HSV_NS, 'jobs', () => this.jobsState());
    registry.addState(HSV_NS, 'signing-keys', async () => el(HSV_NS, 'signing-keys', leaf(HSV_NS, 'jwks', JSON.stringify(await this.o.jwks()))));
    try {
      this.readRunningInventory(registry.getRunning());
      registry.onConfigChange((running) => this.readRunningInventory(running));
    } catch (err) {
      this.log.warn('running configuration not readable; inventory from the plugin config only', { err });
    }
  }

  /** Resume the jobs a previous run left active. */
  resume(): Promise<string[]> {
    return this.runner.resume();
  }

  async close(): Promise<void> {
    await this.runner.close();
  }

  knows(henbId: string): boolean {
    if (this.runningInventory.has(henbId)) return true;
    for (const id of this.o.inventory()) if (id === henbId) return true;
    return false;
  }

  private readRunningInventory(running: XmlElement): void {
    const ids = new Set<string>();
    const inv = child(running, HSV_NS, 'inventory');
    if (inv) for (const h of childrenNamed(inv, HSV_NS, 'henb')) {
      const id = childText(h, HSV_NS, 'henb-id')?.trim();
      if (id) ids.add(id);
    }
    this.runningInventory = ids;
  }

  private async emit(event: XmlElement): Promise<void> {
    if (!this.registry) return;
    try {
      await this.registry.notify(HSV_STREAM, event, new Date(this.clock.now()));
    } catch (err) {
      this.log.error('notification not sent', { event: event.name, err });
    }
  }

  // --- RPCs --------------------------------------------------------------------------------------------

  /**
   * integrity-request: steps 2-4 without an update, as a job of kind integrity-check (src/oam: the same PVE
   * step as an update's, and one job per H(e)NB whatever its kind); a trustworthy verdict lifts a quarantine.
   */
  async integrityRequest(op: XmlElement): Promise<XmlElement[]> {
    const henbId = (childText(op, HSV_NS, 'henb-id') ?? '').trim();
    if (!this.knows(henbId)) throw unknownHenb('integrity-request', henbId, 'henb-id');
    const ms = (this.o.policies?.pveTimeoutSec ?? 30) * 1000;
    let job: Job;
    try {
      job = await this.runner.check(henbId, { pve: ms });
    } catch (err) {
      if (oamErrorCode(err) === 'ERR_OAM_HENB_BUSY') {
        throw rpcError('in-use', 'henb-busy', `a job is already running for H(e)NB ${henbId}`, `/hsv:integrity-request/hsv:henb-id`);
      }
      throw err;
    }
    const pve = job.pve;
    if (pve !== undefined && job.state === 'refused' && pve.earStatus === 'affirming') {
      // the PVE affirmed the evidence, the OAM refused it: other software than the version recorded for the H(e)NB
      // (transition.ts softwareDrift); the token stays the PVE's own, the reason names both versions
      return [leaf(HSV_NS, 'ear-status', 'contraindicated'), leaf(HSV_NS, 'attestation-result', pve.token), leaf(HSV_NS, 'reason', job.result?.reason ?? 'refused')];
    }
    if (pve !== undefined) {
      const out = [leaf(HSV_NS, 'ear-status', pve.earStatus), leaf(HSV_NS, 'attestation-result', pve.token)];
      if (pve.reason !== undefined) out.push(leaf(HSV_NS, 'reason', pve.reason));
      return out;
    }
    const cause = job.result?.cause;
    this.log.warn('integrity-request without a verdict', { henbId, jobId: job.jobId, reason: job.result?.reason });
    switch (cause?.kind) {
      case 'henb-unreachable': throw rpcError('operation-failed', 'henb-unreachable', `the PVE could not reach H(e)NB ${henbId}`);
      case 'pve-result-invalid': throw rpcError('operation-failed', 'pve-result-invalid', `the PVE's result did not verify (${cause.code})`);
      case 'pve-unreachable': throw rpcError('operation-failed', 'pve-unreachable', `the PVE could not be asked (${cause.code})`);
      // the documented app-tag unknown-henb, with operation-failed (not invalid-value: the OAM knows the H(e)NB, the PVE does not)
      case 'henb-unknown-to-pve': throw rpcError('operation-failed', 'unknown-henb', `the PVE does not know H(e)NB ${henbId} (${cause.code}); add it to the PVE's devices file`);
      default: throw rpcError('operation-failed', 'pve-unreachable', `the PVE did not answer within ${ms} ms`);
    }
  }

  /** software-update: check everything first (no job starts on bad input), then one job per H(e)NB. */
  async softwareUpdate(op: XmlElement): Promise<XmlElement[]> {
    const ids = this.requestedHenbs(op);
    const sw = child(op, HSV_NS, 'software');
    const uri = (sw ? childText(sw, HSV_NS, 'uri') : undefined)?.trim() ?? '';
    const url = await this.allowedSoftware(uri);
    const version = sw ? childText(sw, HSV_NS, 'version')?.trim() : undefined;
    const sha256 = sw ? childText(sw, HSV_NS, 'sha256')?.trim() : undefined;
    // a local image with an expected digest is checked now: a wrong sha256 is the same for every H(e)NB, so it is
    // one rpc-error before any job starts (a rollout stops at it with exit 2), not one failed job per device
    if (url.protocol === 'file:' && this.o.fileRoot !== undefined && sha256 !== undefined && sha256 !== '') {
      const actual = await fileDigest(this.digests, url);
      if (actual !== undefined && actual !== sha256.toLowerCase()) {
        throw rpcError('invalid-value', 'software-unavailable',
          `the software file's SHA-256 is ${actual}, not the given sha256 ${sha256.toLowerCase()}`, '/hsv:software-update/hsv:software/hsv:sha256');
      }
    }
    const sc = childText(op, HSV_NS, 'self-check')?.trim();
    const selfCheck = sc === undefined ? this.o.policies?.selfCheck ?? true : sc === 'true' || sc === '1';
    const listed = childrenNamed(op, HSV_NS, 'on-mismatch').map((e) => textOf(e).trim() as Measure);
    const measures = listed.length > 0 ? listed : this.o.policies?.onMismatch ?? ['alarm', 'rollback'];
    const timeouts = this.stepTimeouts(op);
    // an http(s) image with an expected digest too: fetched and hashed once for the request (a later request for an
    // unchanged image costs a conditional request: ETag / Last-Modified), bounded so that the reply stays prompt
    if ((url.protocol === 'http:' || url.protocol === 'https:') && sha256 !== undefined && sha256 !== '' && this.o.fetcher.digestAhead !== undefined) {
      const actual = await this.httpDigest(url.href, timeouts.fetch);
      if (actual !== undefined && actual !== sha256.toLowerCase()) {
        throw rpcError('invalid-value', 'software-unavailable',
          `the SHA-256 of the software at the URI is ${actual}, not the given sha256 ${sha256.toLowerCase()}`, '/hsv:software-update/hsv:software/hsv:sha256');
      }
    }
    const request = {
      uri, selfCheck, measures,
      ...(version !== undefined && version !== '' ? { version } : {}),
      ...(sha256 !== undefined && sha256 !== '' ? { sha256 } : {}),
    };
    return this.startJobs(ids, timeouts, request);
  }

  /** the software-update's henb-ids: at least one, every one in the inventory (all unknown ones named in one reply) */
  private requestedHenbs(op: XmlElement): string[] {
    const ids = childrenNamed(op, HSV_NS, 'henb-id').map((e) => textOf(e).trim());
    if (ids.length === 0) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: 'henb-id is missing', path: '/hsv:software-update', pathNs: { hsv: HSV_NS } });
    const unknown = ids.filter((id) => !this.knows(id));
    if (unknown.length > 0) {
      throw new NetconfError(unknown.map((id) => unknownHenbInfo('software-update', id, `henb-id[.=${xpathLiteral(id)}]`)));
    }
    return ids;
  }

  /** the software URI, parsed and confined (file: inside software.file-root, http(s): in software.allow) */
  private async allowedSoftware(uri: string): Promise<URL> {
    let url: URL;
    try {
      url = parseSoftwareUri(uri);
    } catch {
      throw rpcError('invalid-value', 'unsupported-uri-scheme', `the software URI must be a file:, http: or https: URI`, '/hsv:software-update/hsv:software/hsv:uri');
    }
    const confine = this.o.confineSoftware;
    if (confine && url.protocol === 'file:' && this.o.fileRoot === undefined) {
      throw rpcError('operation-failed', 'software-unavailable',
        'file: software URIs are refused: the configuration names no directory the OAM may read (software.file-root)', '/hsv:software-update/hsv:software/hsv:uri');
    }
    if (confine && url.protocol !== 'file:' && !confine.allowHttpUrl(url)) {
      throw rpcError('operation-failed', 'software-unavailable',
        'the software URI is not an allowed software source (software.allow)', '/hsv:software-update/hsv:software/hsv:uri');
    }
    if (url.protocol === 'file:' && this.o.fileRoot !== undefined && !(await insideRoot(url, this.o.fileRoot))) {
      throw rpcError('operation-failed', 'software-unavailable',
        'the software file is outside the directory the OAM may read (software.file-root)', '/hsv:software-update/hsv:software/hsv:uri');
    }
    return url;
  }

  /** per-step time limits: the request's timeout, else the policies' (the PVE step its own), overridden by options.timeouts */
  private stepTimeouts(op: XmlElement): StepTimeouts {
    const tSec = childText(op, HSV_NS, 'timeout')?.trim();
    const stepMs = (tSec !== undefined ? Number(tSec) : this.o.policies?.stepTimeoutSec ?? 300) * 1000;
    return {
      pve: tSec !== undefined ? stepMs : (this.o.policies?.pveTimeoutSec ?? 30) * 1000,
      fetch: stepMs, send: stepMs, completion: stepMs,
      ...(this.o.timeouts ?? {}),
    };
  }

  /** one job per H(e)NB, started concurrently (a bounded pool); the reply lists them in request order */
  private async startJobs(ids: string[], timeouts: StepTimeouts, request: StartRequest['request']): Promise<XmlElement[]> {
    // each job entry names the module's prefix: the server declares it once on the rpc-reply (one declaration for
    // the whole list instead of one per H(e)NB: a reply naming 10,000 H(e)NBs stays within a client's limits)
    const job = (...leaves: XmlElement[]): XmlElement => ({ ...el(HSV_NS, 'job', ...leaves), nsContext: JOB_NS_CONTEXT });
    const startOne = async (henbId: string): Promise<XmlElement> => {
      try {
        const started = await this.runner.start({ henbId, timeouts, request });
        return job(leaf(HSV_NS, 'henb-id', henbId), leaf(HSV_NS, 'job-id', started.jobId), leaf(HSV_NS, 'status', 'started'));
      } catch (err) {
        const busy = oamErrorCode(err) === 'ERR_OAM_HENB_BUSY';
        if (!busy) this.log.error('job not started', { henbId, err });
        const reason = busy ? `henb-busy: ${(err as Error).message}` : `job not started (${errorCode(err)})`;
        return job(leaf(HSV_NS, 'henb-id', henbId), leaf(HSV_NS, 'status', 'refused'), leaf(HSV_NS, 'reason', reason));
      }
    };
    const out: XmlElement[] = new Array<XmlElement>(ids.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const i = next++;
        out[i] = await startOne(ids[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, ids.length) }, worker));
    return out;
  }

  /**
   * The digest of an http(s) image for the check before any job (SoftwareFetcher.digestAhead), or undefined when
   * it cannot be had within PRECHECK_MS or the fetch fails: then the jobs check it, as before (each job's step 5
   * fetches the image itself and reports a failure in its reason).
   */
  private async httpDigest(uri: string, fetchMs: number): Promise<string | undefined> {
    const started = this.clock.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), PRECHECK_MS);
    });
    try {
      const r = await Promise.race([this.o.fetcher.digestAhead!(uri, AbortSignal.timeout(fetchMs)), late]);
      if (r === 'late') {
        this.log.info('software digest not checked before the jobs: the download takes longer (each job fetches and checks it; the next request finds the digest)', { uri, waitedMs: PRECHECK_MS });
        return undefined;
      }
      this.log.info('software digest checked before the jobs', { uri, sha256: r.sha256, size: r.size, cached: r.cached, ms: this.clock.now() - started });
      return r.sha256.toLowerCase();
    } catch (err) {
      this.log.info('software digest not checked before the jobs (each job fetches and checks it)', { uri, err: errorCode(err) });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** completion-tim: step 8 reported by RPC. */
  async completionTim(op: XmlElement): Promise<'ok'> {
    const jobId = (childText(op, HSV_NS, 'job-id') ?? '').trim();
    const henbId = (childText(op, HSV_NS, 'henb-id') ?? '').trim();
    const tim = (childText(op, HSV_NS, 'tim') ?? '').trim();
    const c: DeviceCompletion = { jobId, henbId, status: 'completed', tim };
    const logEl = child(op, HSV_NS, 'measurement-log');
    if (logEl) {
      const entries = childrenNamed(logEl, HSV_NS, 'entry').map((e) => ({
        index: Number(childText(e, HSV_NS, 'index') ?? '0'),
        component: (childText(e, HSV_NS, 'component') ?? '').trim(),
        digest: (childText(e, HSV_NS, 'digest') ?? '').trim(),
      }));
      entries.sort((a, b) => a.index - b.index);
      c.measurementLog = entries.map(({ component, digest }): MeasurementLogEntry => ({ component, digest }));
    }
    const sc = childText(op, HSV_NS, 'self-check')?.trim();
    if (sc === 'passed' || sc === 'failed' || sc === 'not-performed') c.selfCheck = sc;
    // the device's own status and version, relayed as it signed them
    const status = childText(op, HSV_NS, 'status')?.trim();
    if (status !== undefined) {
      c.deviceStatus = status;
      if (status !== 'completed' && status !== 'self-check-failed') c.status = 'failed';
    }
    const version = childText(op, HSV_NS, 'software-version');
    if (version !== undefined) c.softwareVersion = version;
    const reason = childText(op, HSV_NS, 'reason');
    if (reason !== undefined) c.reason = reason;
    const evidence = parseRelayedEvidence(child(op, HSV_NS, 'evidence'));
    if (evidence !== undefined) c.evidence = evidence;
    try {
      await this.runner.complete(c);
    } catch (err) {
      const path = '/hsv:completion-tim/hsv:evidence';
      switch (oamErrorCode(err)) {
        case 'ERR_OAM_JOB_UNKNOWN': throw rpcError('invalid-value', 'job-unknown', `no job ${jobId}`, '/hsv:completion-tim/hsv:job-id');
        case 'ERR_OAM_HENB_MISMATCH': throw rpcError('invalid-value', 'henb-mismatch', `job ${jobId} does not belong to H(e)NB ${henbId}`, '/hsv:completion-tim/hsv:henb-id');
        case 'ERR_OAM_JOB_NOT_WAITING': throw rpcError('operation-failed', 'job-not-waiting', `job ${jobId} is not waiting for a completion`, '/hsv:completion-tim/hsv:job-id');
      }
      if (err instanceof CompletionRefused) {
        this.log.warn('completion-tim refused; nothing changed', { jobId, henbId, code: err.code, appTag: err.appTag });
        const tag: RpcErrorInfo['tag'] = err.appTag === 'evidence-required' ? 'missing-element'
          : err.appTag === 'pve-unreachable' || err.appTag === 'pve-result-invalid' ? 'operation-failed' : 'access-denied';
        throw rpcError(tag, err.appTag, err.message, err.appTag === 'pve-unreachable' || err.appTag === 'pve-result-invalid' ? undefined : path);
      }
      throw err;
    }
    return 'ok';
  }

  // --- state -------------------------------------------------------------------------------------------

  async henbsState(): Promise<XmlElement | undefined> {
    const recs = new Map((await this.o.store.listHenbs()).map((r) => [r.henbId, r]));
    // exactly the inventory (what software-update accepts and the rollout tool reads): a removed H(e)NB's
    // records stay in the store but are not listed
    const ids = new Set<string>([...this.o.inventory(), ...this.runningInventory]);
    if (ids.size === 0) return undefined;
    // last job and last result: of software updates (integrity checks answer their RPC)
    const jobs = (await this.o.store.listJobs<Job>()).filter((j) => j.kind === 'software-update');
    const last = new Map<string, JobRecord<Job>>();
    const lastDone = new Map<string, JobRecord<Job>>();
    for (const j of jobs) {
      const a = last.get(j.henbId);
      if (!a || j.createdAt >= a.createdAt) last.set(j.henbId, j);
      // finished: its final state is stored (the terminal flag follows once the result is notified)
      if (isTerminal(j.data.state)) {
        const b = lastDone.get(j.henbId);
        if (!b || j.updatedAt >= b.updatedAt) lastDone.set(j.henbId, j);
      }
    }
    const list = [...ids].sort().map((id) => {
      const r = recs.get(id);
      const lj = last.get(id);
      const ld = lastDone.get(id);
      return el(HSV_NS, 'henb',
        leaf(HSV_NS, 'henb-id', id),
        r?.rim ? leaf(HSV_NS, 'rim', r.rim) : undefined,
        r?.softwareVersion ? leaf(HSV_NS, 'software-version', r.softwareVersion) : undefined,
        leaf(HSV_NS, 'state', r?.state ?? 'unknown'),
        lj ? leaf(HSV_NS, 'last-job-id', lj.jobId) : undefined,
        ld ? leaf(HSV_NS, 'last-result', ld.state) : undefined,
        r?.lastResultToken ? leaf(HSV_NS, 'last-attestation-result', r.lastResultToken) : undefined,
        r ? leaf(HSV_NS, 'last-change', dateTime(r.updatedAt)) : undefined,
        leaf(HSV_NS, 'connection', this.o.connections?.(id)?.kind ?? 'not-connected'),
        ((c) => (c ? leaf(HSV_NS, 'connected-since', dateTime(c.since)) : undefined))(this.o.connections?.(id)));
    });
    return el(HSV_NS, 'henbs', list);
  }

  async jobsState(): Promise<XmlElement | undefined> {
    const jobs = await this.o.store.listJobs<Job>();
    if (jobs.length === 0) return undefined;
    return el(HSV_NS, 'jobs', jobs.filter((r) => r.kind === 'software-update').map((r) => {
      const j = r.data;
      const terminal = isTerminal(j.state);
      return el(HSV_NS, 'job',
        leaf(HSV_NS, 'job-id', j.jobId),
        leaf(HSV_NS, 'henb-id', j.henbId),
        leaf(HSV_NS, 'step', isTerminal(j.state) ? endStep(j) : STATE_STEP[j.state]),
        leaf(HSV_NS, 'status', terminal ? j.state : 'running'),
        leaf(HSV_NS, 'software-uri', j.request.uri),
        j.request.version !== undefined ? leaf(HSV_NS, 'software-version', j.request.version) : undefined,
        isDigest(j.softwareRim) ? leaf(HSV_NS, 'software-rim', j.softwareRim) : undefined,
        isDigest(j.expectedRim) ? leaf(HSV_NS, 'expected-rim', j.expectedRim) : undefined,
        isDigest(j.completion?.tim) ? leaf(HSV_NS, 'reported-tim', j.completion.tim) : undefined,
        j.result ? leaf(HSV_NS, 'reason', j.result.reason) : undefined,
        leaf(HSV_NS, 'created', dateTime(j.createdAt)),
        leaf(HSV_NS, 'updated', dateTime(j.updatedAt)),
        r.owner !== null && r.owner !== undefined ? leaf(HSV_NS, 'instance', r.owner) : undefined);
    }));
  }
}

// --- XML of the notifications --------------------------------------------------------------------------

export function progressXml(job: Job, step: Step, text: string): XmlElement {
  return el(HSV_NS, 'software-update-progress',
    leaf(HSV_NS, 'job-id', job.jobId), leaf(HSV_NS, 'henb-id', job.henbId),
    leaf(HSV_NS, 'step', step), leaf(HSV_NS, 'text', text));
}

export function resultXml(job: Job): XmlElement {
  const r = job.result;
  return el(HSV_NS, 'software-update-result',
    leaf(HSV_NS, 'job-id', job.jobId), leaf(HSV_NS, 'henb-id', job.henbId),
    leaf(HSV_NS, 'status', r?.status ?? (isTerminal(job.state) ? job.state : 'failed')),
    job.request.version !== undefined ? leaf(HSV_NS, 'software-version', job.request.version) : undefined,
    isDigest(job.expectedRim) ? leaf(HSV_NS, 'expected-rim', job.expectedRim) : undefined,
    isDigest(job.completion?.tim) ? leaf(HSV_NS, 'reported-tim', job.completion.tim) : undefined,
    r?.token !== undefined ? leaf(HSV_NS, 'attestation-result', r.token) : undefined,
    r && r.status !== 'verified' ? leaf(HSV_NS, 'reason', r.reason) : undefined,
    r?.component !== undefined ? leaf(HSV_NS, 'differing-component', r.component) : undefined);
}

export function alarmXml(job: Job, text: string): XmlElement {
  return el(HSV_NS, 'integrity-alarm',
    leaf(HSV_NS, 'henb-id', job.henbId), leaf(HSV_NS, 'job-id', job.jobId),
    leaf(HSV_NS, 'severity', job.state === 'mismatch' || (kindOf(job) === 'integrity-check' && job.state === 'refused') ? 'critical' : 'major'),
    leaf(HSV_NS, 'reason', text));
}

/** the step an ended job stopped at */
function endStep(j: Job): Step {
  if (j.state === 'verified' || j.state === 'mismatch') return STEP.compare;
  if (j.state === 'refused') return STEP.pveVerdict;
  if (j.completion !== undefined) return STEP.compare;
  if (j.updateSent === true) return STEP.install;
  if (j.softwareRim !== undefined) return STEP.fetch;
  return j.pve !== undefined ? STEP.fetch : STEP.pveVerdict;
}

/**
 * SHA-256 of local images by path, each read again only when the file changes (src/file-cache.ts: dev, inode, size,
 * mtime, ctime: an image replaced by a rename onto its name is hashed again even with the same size and mtime), and
 * once for requests at once; at most 64 paths.
 */
function localDigests(): FileCache<string> {
  return new FileCache<string>(async (file, st) => {
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    const h = createHash('sha256');
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    return h.digest('hex');
  }, { max: 64 });
}

/** SHA-256 of a local file; undefined when it cannot be read (the job then says so). */
async function fileDigest(cache: FileCache<string>, url: URL): Promise<string | undefined> {
  try {
    return await cache.get(fileURLToPath(url));
  } catch {
    return undefined;
  }
}

/**
 * Whether a file: URI names a path inside `root` (a real path). Symbolic links are resolved as far as the
 * path exists (the fetch checks again when it opens the file).
 */
export async function insideRoot(url: URL, root: string): Promise<boolean> {
  let file: string;
  try {
    file = resolve(fileURLToPath(url));
  } catch {
    return false;
  }
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    // not there (yet): resolve the nearest existing parent, keep the rest as written
    let dir = dirname(file);
    const rest = [basename(file)];
    for (;;) {
      try {
        real = join(await realpath(dir), ...rest);
        break;
      } catch {
        if (dirname(dir) === dir) return false;
        rest.unshift(basename(dir));
        dir = dirname(dir);
      }
    }
  }
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function xpathLiteral(s: string): string {
  return s.includes("'") ? `"${s}"` : `'${s}'`;
}

function rpcError(tag: RpcErrorInfo['tag'], appTag: string, message: string, path?: string): NetconfError {
  return new NetconfError({
    type: 'application', tag, appTag, message,
    ...(path !== undefined ? { path, pathNs: { [HSV_PREFIX]: HSV_NS } } : {}),
  });
}

function unknownHenbInfo(rpc: string, henbId: string, step: string): RpcErrorInfo {
  return {
    type: 'application', tag: 'invalid-value', appTag: 'unknown-henb',
    message: `H(e)NB ${henbId} is not in the inventory`,
    path: `/hsv:${rpc}/hsv:${step}`, pathNs: { [HSV_PREFIX]: HSV_NS },
  };
}

function unknownHenb(rpc: string, henbId: string, step: string): NetconfError {
  return new NetconfError(unknownHenbInfo(rpc, henbId, step));
}


/**
 * The evidence container of a relayed completion (the device notification's, in the OAM module's namespace). A
 * tpm2-quote container's tpm20-attestation becomes the quote, its signature and the TCG event log the PVE
 * appraises; a malformed one is an rpc-error (invalid-value, evidence-invalid) naming it, and changes nothing.
 */
export function parseRelayedEvidence(e: XmlElement | undefined): CompletionEvidence | undefined {
  if (e === undefined) return undefined;
  const text = (name: string): string | undefined => childText(e, HSV_NS, name)?.replace(/\s+/g, '');
  const format = text('evidence-format');
  const out: CompletionEvidence = {
    format: format === 'tpm2-quote' ? 'tpm2-quote' : 'software-key',
    nonce: text('nonce-value') ?? '',
    signatureAlgorithm: text('signature-algorithm') ?? '',
    signature: text('signature') ?? '',
  };
  const keyId = text('key-id');
  if (keyId !== undefined) out.keyId = keyId;
  const quote = text('quote');
  if (quote !== undefined) out.quote = quote;
  const tpmEl = child(e, HSV_NS, 'tpm20-attestation');
  if (tpmEl !== undefined) {
    let t;
    try {
      t = parseTpm20Attestation(tpmEl, HSV_NS);
    } catch (err) {
      if (!(err instanceof DeviceWireError)) throw err;
      throw rpcError('invalid-value', 'evidence-invalid', `the relayed ${err.message.replace(/^the device sent a malformed /, '')} is malformed`, '/hsv:completion-tim/hsv:evidence/hsv:tpm20-attestation');
    }
    out.signature = t.signature;
    out.quote = t.quote;
    out.eventLog = t.eventLog;
    out.keyId ??= t.certificateName;
  }
  return out;
}
