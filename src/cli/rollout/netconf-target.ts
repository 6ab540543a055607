/**
 * The NETCONF side of a rollout, and an example of a scripted session with our own client:
 * connect (pinned host key), create-subscription on the henb-sw-verify stream (with replay from the
 * rollout's start when resuming, RFC 5277 section 2.1.1), software-update per device, and the outcome
 * from the software-update-result notification that carries the job id (a get of /jobs first, in case
 * the result is already there).
 */
import { connectNetconf, NetconfError } from '../../netconf/client/index.js';
import type { NetconfClient } from '../../netconf/client/index.js';
import { fingerprintOfBlob } from '../../netconf/server/index.js';
import { NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS, child, childText, childrenNamed, el, elA, leaf } from '../../netconf/xml/index.js';
import type { XmlElement } from '../../netconf/xml/index.js';
import type { ConnectOptions, DeviceResult, RolloutConnection } from './engine.js';
import { RESULT_STATUSES, RolloutError } from './report.js';
import type { ResultStatus } from './report.js';

export const HSV_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
export const RESULT_STREAM = 'henb-sw-verify';
const SUBTREE = [{ ns: '', name: 'type', value: 'subtree' }];

function resultOf(n: XmlElement): { jobId: string; result: DeviceResult } | undefined {
  const jobId = childText(n, HSV_NS, 'job-id')?.trim();
  const status = childText(n, HSV_NS, 'status')?.trim() as ResultStatus | undefined;
  if (!jobId || !status || !(RESULT_STATUSES as readonly string[]).includes(status)) return undefined;
  const result: DeviceResult = { status, jobId };
  const reason = childText(n, HSV_NS, 'reason');
  const token = childText(n, HSV_NS, 'attestation-result');
  const comp = childText(n, HSV_NS, 'differing-component');
  if (reason) result.reason = reason;
  if (token) result.token = token.trim();
  if (comp) result.differingComponent = comp.trim();
  return { jobId, result };
}

/** The client options for the rollout's server (pinned host key, or any key and report it through `onKey`). */
function clientOptions(o: ConnectOptions, onKey: (fingerprint: string) => void): Parameters<typeof connectNetconf>[0] {
  return {
    host: o.host,
    port: o.port,
    username: o.username,
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.privateKey !== undefined ? { privateKey: o.privateKey } : {}),
    ...(o.hostKey !== undefined ? { hostKeySha256: o.hostKey } : {}),
    hostVerifier: (blob) => {
      onKey(fingerprintOfBlob(blob));
      return true;
    },
    rpcTimeoutMs: 60_000,
  };
}

/** create-subscription on the result stream (replay from `replayFrom` when resuming); closes the client on failure */
async function subscribe(client: NetconfClient, o: ConnectOptions): Promise<void> {
  try {
    const sub = el(NETCONF_NOTIFICATION_NS, 'create-subscription',
      leaf(NETCONF_NOTIFICATION_NS, 'stream', RESULT_STREAM),
      o.replayFrom && leaf(NETCONF_NOTIFICATION_NS, 'startTime', o.replayFrom.toISOString()));
    await client.rpc(sub);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new RolloutError('ERR_ROLLOUT_SUBSCRIBE', `cannot subscribe to the ${RESULT_STREAM} stream on ${o.host}:${o.port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** the software-update request of one device */
function softwareUpdateRequest(o: ConnectOptions, henbId: string): XmlElement {
  const software = el(HSV_NS, 'software',
    leaf(HSV_NS, 'uri', o.software.uri),
    o.software.version !== undefined && leaf(HSV_NS, 'version', o.software.version),
    o.software.sha256 !== undefined && leaf(HSV_NS, 'sha256', o.software.sha256));
  return el(HSV_NS, 'software-update',
    leaf(HSV_NS, 'henb-id', henbId),
    software,
    o.selfCheck !== undefined && leaf(HSV_NS, 'self-check', o.selfCheck));
}

/**
 * A software-update the server answered with an rpc-error: an error about the software (its error-path points
 * into software-update/software) is the same for every device, so the rollout stops before touching another one
 * (engine FATAL_FOR_ALL); any other is the OAM refusing the request itself (not the PVE): invalid input, unknown
 * H(e)NB.
 */
function refusedUpdate(err: NetconfError, o: ConnectOptions): DeviceResult {
  const e = err.errors[0];
  const text = `rpc-error ${e?.tag ?? ''}${e?.appTag ? ` (${e.appTag})` : ''}: ${e?.message ?? err.message}`;
  if (e?.path !== undefined && /\/[A-Za-z0-9_-]+:software(\/|$)/.test(e.path)) {
    throw new RolloutError('ERR_ROLLOUT_SOFTWARE', `the server refused --software ${o.software.uri}: ${text}`, { cause: err });
  }
  return { status: 'rejected', reason: text };
}

/** The job of `henbId` in a software-update reply: its job id when started, else the OAM's refusal (H(e)NB busy, store error). */
function startedJob(reply: XmlElement, henbId: string): { jobId: string } | DeviceResult {
  const job = childrenNamed(reply, HSV_NS, 'job').find((j) => childText(j, HSV_NS, 'henb-id')?.trim() === henbId) ?? child(reply, HSV_NS, 'job');
  const status = job ? childText(job, HSV_NS, 'status')?.trim() : undefined;
  const jobId = job ? childText(job, HSV_NS, 'job-id')?.trim() : undefined;
  const reason = job ? childText(job, HSV_NS, 'reason') : undefined;
  if (status === 'started' && jobId) return { jobId };
  return { status: 'rejected', ...(jobId ? { jobId } : {}), reason: reason ?? `software-update answered ${status ?? 'nothing'}` };
}

/** Results by job id: the ones that arrived before anyone waited, and the waiters of the others. */
class ResultMailbox {
  private readonly results = new Map<string, DeviceResult>();
  private readonly waiters = new Map<string, (r: DeviceResult) => void>();

  deliver(jobId: string, r: DeviceResult): void {
    const w = this.waiters.get(jobId);
    if (w) {
      this.waiters.delete(jobId);
      w(r);
    } else this.results.set(jobId, r);
  }

  early(jobId: string): DeviceResult | undefined {
    return this.results.get(jobId);
  }

  /** the result of `jobId`, bounded by the signal and by the session (`done`) */
  wait(jobId: string, signal: AbortSignal, done: Promise<Error | undefined>): Promise<DeviceResult> {
    return new Promise<DeviceResult>((resolve, reject) => {
      const late = this.results.get(jobId);
      if (late) return resolve(late);
      const onAbort = () => {
        this.waiters.delete(jobId);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(jobId, (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      });
      done.then((err) => {
        if (this.waiters.delete(jobId)) reject(new RolloutError('ERR_ROLLOUT_SESSION', `the NETCONF session ended${err ? `: ${err.message}` : ''}`));
      }, () => undefined);
    });
  }
}

/** The rollout's NETCONF session: inventory, start (software-update), wait (notification or /jobs), close. */
class NetconfRolloutTarget implements RolloutConnection {
  private readonly mailbox = new ResultMailbox();
  private readonly pump: Promise<void>;

  constructor(private readonly client: NetconfClient, private readonly o: ConnectOptions, readonly fingerprint: string) {
    this.pump = this.readResults();
  }

  /** every software-update-result notification into the mailbox, until the stream ends */
  private async readResults(): Promise<void> {
    try {
      for await (const n of this.client.notifications()) {
        const ev = child(n, HSV_NS, 'software-update-result');
        const r = ev ? resultOf(ev) : undefined;
        if (r) this.mailbox.deliver(r.jobId, r.result);
      }
    } catch (err) {
      this.o.log.warn('notification stream ended', { err });
    }
  }

  /** a get of /jobs/job[job-id]: the result when the job already ended */
  private async jobState(jobId: string): Promise<DeviceResult | undefined> {
    const filter = elA(NETCONF_BASE_NS, 'filter', SUBTREE, el(HSV_NS, 'jobs', el(HSV_NS, 'job', leaf(HSV_NS, 'job-id', jobId))));
    const reply = await this.client.rpc(el(NETCONF_BASE_NS, 'get', filter));
    const job = child(child(child(reply, NETCONF_BASE_NS, 'data') ?? reply, HSV_NS, 'jobs') ?? reply, HSV_NS, 'job');
    if (!job) return undefined;
    const r = resultOf(job);
    return r?.result;
  }

  async inventory(): Promise<string[]> {
    const filter = elA(NETCONF_BASE_NS, 'filter', SUBTREE, el(HSV_NS, 'henbs', el(HSV_NS, 'henb', el(HSV_NS, 'henb-id'))));
    const reply = await this.client.rpc(el(NETCONF_BASE_NS, 'get', filter));
    const henbs = child(child(reply, NETCONF_BASE_NS, 'data') ?? reply, HSV_NS, 'henbs');
    return henbs ? childrenNamed(henbs, HSV_NS, 'henb').map((h) => childText(h, HSV_NS, 'henb-id')?.trim() ?? '').filter(Boolean) : [];
  }

  async start(henbId: string): Promise<{ jobId: string } | DeviceResult> {
    let reply: XmlElement;
    try {
      reply = await this.client.rpc(softwareUpdateRequest(this.o, henbId));
    } catch (err) {
      if (err instanceof NetconfError) return refusedUpdate(err, this.o);
      throw err;
    }
    return startedJob(reply, henbId);
  }

  async wait(_henbId: string, jobId: string, signal: AbortSignal): Promise<DeviceResult> {
    const early = this.mailbox.early(jobId) ?? (await this.jobState(jobId).catch(() => undefined));
    if (early) return early;
    return this.mailbox.wait(jobId, signal, this.client.done);
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await this.pump;
  }
}

export async function connectRolloutTarget(o: ConnectOptions): Promise<RolloutConnection> {
  let seen: string | undefined;
  const client: NetconfClient = await connectNetconf(clientOptions(o, (fp) => { seen = fp; }));
  await subscribe(client, o);
  return new NetconfRolloutTarget(client, o, o.hostKey ?? seen ?? 'unknown');
}
