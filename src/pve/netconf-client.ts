/**
 * PveClient (src/oam/ports.ts) over NETCONF/SSH: the hsvp:integrity-request RPC on the PVE's NETCONF
 * endpoint, host key pinned, one short session per request. Errors use the codes of the RESTCONF client
 * (./client.ts): ERR_PVE_UNREACHABLE (connection; the device-layer code is in the message; or no NETCONF session,
 * i.e. TCP connect, SSH or TLS handshake and hello, within connectTimeoutMs: "timed out connecting", the request not
 * sent), ERR_PVE_AUTH, ERR_PVE_HOST_KEY (host key not the pinned one, or none pinned),
 * ERR_PVE_TIMEOUT (the request was sent and no reply came within timeoutMs: never retried), ERR_PVE_REJECTED
 * (rpc-error: errorTag, appTag), ERR_PVE_UNKNOWN_HENB (app-tag unknown-henb), ERR_PVE_BAD_RESPONSE, ERR_PVE_ABORTED.
 */
import { connectDevice } from '../device/index.js';
import type { DeviceConnector, DeviceTarget } from '../device/index.js';
import { NetconfError } from '../netconf/rpc-error.js';
import { NETCONF_BASE_NS, child, childText, el, leaf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { PostUpdateEvidence, PreUpdateEvidence, PveClientErrorCode, PveIntegrityRequest } from '../oam/index.js';
import { PVE_HENB_UNKNOWN } from '../oam/index.js';
import { PveClientError } from './client.js';
import type { PveIntegrityResult } from './client.js';
import { PVE_NS, base64urlToBase64 } from './restconf.js';
import { retryUnanswered } from './retry.js';
import type { PveRetryOptions } from './retry.js';

export interface NetconfPveClientOptions extends DeviceTarget {
  /** connect + rpc budget, ms (default 15000) */
  timeoutMs?: number;
  /**
   * connect timeout, ms (default 10000; at most timeoutMs): the session (TCP connect, SSH or TLS handshake, hello)
   * must be established within it, else the attempt fails before the request was sent (notSent: retried, ./retry.ts)
   */
  connectTimeoutMs?: number;
  connector?: DeviceConnector;
  /** retry of integrity requests whose session could not be established, or ended before the answer (./retry.ts) */
  retry?: PveRetryOptions;
}

export interface NetconfPveClient {
  integrityRequest(req: PveIntegrityRequest, signal: AbortSignal, deadline?: number): Promise<PveIntegrityResult>;
  provideReferenceValues(jws: string, signal: AbortSignal): Promise<void>;
  close(): void;
}

function err(code: PveClientErrorCode, message: string, cause?: unknown): PveClientError {
  return new PveClientError(code, message, cause !== undefined ? { cause } : undefined);
}

/** a session to the PVE's NETCONF endpoint */
type PveSession = Awaited<ReturnType<DeviceConnector>>;

export function createNetconfPveClient(options: NetconfPveClientOptions): NetconfPveClient {
  const pve = new PveSessions(options);
  return {
    close() {
      // sessions are per request
    },
    integrityRequest(req, signal, deadline) {
      return retryUnanswered(() => pve.call(signal, 'the integrity request', (session, rpcSignal) => integrityRequestOn(session, rpcSignal, req, pve.timeoutMs)),
        options.retry ?? {}, err, signal, 'the integrity request', deadline);
    },
    provideReferenceValues(jws, signal) {
      // sent again when its answer was lost: the PVE answers a repeat of the statement it holds as accepted
      return retryUnanswered(() => pve.call(signal, 'provide-reference-values', async (session, rpcSignal) => {
        const reply = await session.rpc(el(PVE_NS, 'provide-reference-values', leaf(PVE_NS, 'reference-values', jws)), { signal: rpcSignal, timeoutMs: pve.timeoutMs });
        if (child(reply, NETCONF_BASE_NS, 'ok') === undefined) throw err('ERR_PVE_BAD_RESPONSE', 'the PVE did not answer provide-reference-values with ok');
      }), options.retry ?? {}, err, signal, 'provide-reference-values');
    },
  };
}

/** the integrity-request RPC on a session, and its attestation result */
async function integrityRequestOn(session: PveSession, rpcSignal: AbortSignal, req: PveIntegrityRequest, timeoutMs: number): Promise<PveIntegrityResult> {
  const reply = await session.rpc(el(PVE_NS, 'integrity-request',
    leaf(PVE_NS, 'henb-id', req.henbId),
    leaf(PVE_NS, 'nonce-value', base64urlToBase64(req.nonce)),
    req.jobId ? leaf(PVE_NS, 'job-id', req.jobId) : undefined,
    req.completion !== undefined ? completionXml(req.completion) : undefined,
    req.evidence !== undefined ? relayedEvidenceXml(req.evidence) : undefined), { signal: rpcSignal, timeoutMs });
  const token = childText(reply, PVE_NS, 'attestation-result')?.trim();
  const earStatus = childText(reply, PVE_NS, 'ear-status')?.trim();
  if (!token || !earStatus) throw err('ERR_PVE_BAD_RESPONSE', 'the PVE reply has no attestation-result');
  const out: PveIntegrityResult = { token, earStatus };
  const reason = childText(reply, PVE_NS, 'reason');
  if (reason !== undefined) out.reason = reason;
  return out;
}

/** an rpc-error of the PVE: an unknown H(e)NB, or a refusal (errorTag, appTag) */
function rejectedBy(e: NetconfError, what: string): PveClientError {
  const f = e.errors[0];
  const x = f?.appTag === PVE_HENB_UNKNOWN
    ? err('ERR_PVE_UNKNOWN_HENB', `the PVE does not know this H(e)NB (${f.appTag}${f.message !== undefined ? `: ${f.message}` : ''}); add it to the PVE's devices file`, e)
    : err('ERR_PVE_REJECTED', `the PVE refused ${what}: ${f?.tag ?? 'rpc-error'}` +
      (f?.appTag !== undefined ? ` (${f.appTag})` : '') + (f?.message !== undefined ? `: ${f.message}` : ''), e);
  if (f) {
    x.errorTag = f.tag;
    if (f.appTag !== undefined) x.appTag = f.appTag;
  }
  return x;
}

/** One short session per RPC to the PVE, within timeoutMs; every failure coded (see the module comment). */
class PveSessions {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  private readonly connect: DeviceConnector;
  private readonly where: string;

  constructor(private readonly options: NetconfPveClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.connectTimeoutMs = Math.min(options.connectTimeoutMs ?? 10_000, this.timeoutMs);
    this.connect = options.connector ?? connectDevice;
    this.where = `${options.host}:${options.port}`;
  }

  async call<T>(signal: AbortSignal, what: string, fn: (session: PveSession, rpcSignal: AbortSignal) => Promise<T>): Promise<T> {
    const { timeoutMs } = this;
    if (signal.aborted) throw err('ERR_PVE_ABORTED', `${what} was aborted`, signal.reason);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(err('ERR_PVE_TIMEOUT', `the PVE did not answer within ${timeoutMs} ms`)), timeoutMs);
    let established = false;
    try {
      const session = await this.connect(this.options, { timeoutMs: this.connectTimeoutMs, signal: ac.signal });
      established = true;
      try {
        return await fn(session, ac.signal);
      } finally {
        void session.close();
      }
    } catch (e) {
      throw this.failed(e, what, signal, ac.signal, established);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** a failed call: aborted, timed out (connecting, or waiting for the reply), refused by the PVE, or a session failure */
  private failed(e: unknown, what: string, signal: AbortSignal, callSignal: AbortSignal, established: boolean): PveClientError {
    if (signal.aborted) return err('ERR_PVE_ABORTED', `${what} was aborted`, signal.reason);
    if (callSignal.aborted) {
      return established ? err('ERR_PVE_TIMEOUT', `the PVE did not answer within ${this.timeoutMs} ms`, e)
        : this.connectTimedOut(`no NETCONF session within ${this.timeoutMs} ms`, e);
    }
    if (e instanceof NetconfError) return rejectedBy(e, what);
    if (e instanceof PveClientError) return e;
    return this.sessionFailure(e, established);
  }

  /** the session could not be had: credentials, host key, or unreachable */
  private sessionFailure(e: unknown, established: boolean): PveClientError {
    const { where } = this;
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_DEVICE_AUTH') return err('ERR_PVE_AUTH', `the PVE at ${where} refused our credentials`, e);
    if (code === 'ERR_DEVICE_HOST_KEY') return err('ERR_PVE_HOST_KEY', `the PVE at ${where} is not the pinned host`, e);
    if (!established && code === 'ERR_DEVICE_TIMEOUT') return this.connectTimedOut((e as Error).message, e);
    const x = err('ERR_PVE_UNREACHABLE', `cannot reach the PVE at ${where}${typeof code === 'string' ? ` (${code})` : ''}`, e);
    // a session that was never established carried no request: safe to retry (./retry.ts)
    if (!established && (code === 'ERR_DEVICE_UNREACHABLE' || code === 'ERR_DEVICE_NETCONF')) x.notSent = true;
    // one that ended (transport reset or closed) before the reply: the PVE may have the request; sent again, same
    // nonce and body, it is answered with the first one's outcome (./retry.ts)
    if (established && (code === 'ERR_SESSION_CLOSED' || code === 'ERR_DEVICE_UNREACHABLE')) x.unanswered = true;
    return x;
  }

  /**
   * no session within the connect budget (TCP connect, SSH or TLS handshake, or hello timed out): the request was not
   * sent (notSent: retried within the step's deadline, ./retry.ts); `detail` says which phase, as the connector saw it
   */
  private connectTimedOut(detail: string, cause: unknown): PveClientError {
    const x = err('ERR_PVE_UNREACHABLE', `timed out connecting to the PVE at ${this.where}: ${detail}`, cause);
    x.notSent = true;
    return x;
  }
}

/** The post-update completion as the PVE module's XML (integrity-request input/completion). */
function completionXml(c: PostUpdateEvidence): XmlElement {
  const n = PVE_NS;
  const ev = c.evidence;
  return el(n, 'completion',
    leaf(n, 'status', c.status),
    c.selfCheck !== undefined ? leaf(n, 'self-check', c.selfCheck) : undefined,
    c.softwareVersion !== undefined ? leaf(n, 'software-version', c.softwareVersion) : undefined,
    leaf(n, 'tim', c.tim),
    el(n, 'measurement-log', c.measurementLog.map((e, i) => el(n, 'entry', leaf(n, 'index', i), leaf(n, 'component', e.component), leaf(n, 'digest', e.digest)))),
    el(n, 'evidence',
      leaf(n, 'evidence-format', ev.format),
      leaf(n, 'nonce-value', base64urlToBase64(ev.nonce)),
      leaf(n, 'signature-algorithm', ev.signatureAlgorithm),
      ev.keyId !== undefined ? leaf(n, 'key-id', ev.keyId) : undefined,
      leaf(n, 'signature', ev.signature),
      ev.quote !== undefined ? leaf(n, 'quote', ev.quote) : undefined,
      ev.eventLog !== undefined ? leaf(n, 'event-log', ev.eventLog) : undefined));
}

/** The relayed pre-update evidence as the PVE module's XML (integrity-request input/evidence). */
function relayedEvidenceXml(ev: PreUpdateEvidence): XmlElement {
  const n = PVE_NS;
  return el(n, 'evidence',
    leaf(n, 'evidence-format', ev.format),
    leaf(n, 'tim', ev.tim),
    el(n, 'measurement-log', ev.measurementLog.map((e, i) => el(n, 'entry', leaf(n, 'index', i), leaf(n, 'component', e.component), leaf(n, 'digest', e.digest)))),
    ev.softwareVersion !== undefined ? leaf(n, 'software-version', ev.softwareVersion) : undefined,
    ev.signatureAlgorithm !== '' ? leaf(n, 'signature-algorithm', ev.signatureAlgorithm) : undefined,
    ev.keyId !== undefined ? leaf(n, 'key-id', ev.keyId) : undefined,
    ev.signature !== '' ? leaf(n, 'signature', ev.signature) : undefined,
    ev.tpm !== undefined
      ? el(n, 'tpm2-quote', leaf(n, 'certificate-name', ev.tpm.certificateName), leaf(n, 'quote', ev.tpm.quote),
        leaf(n, 'quote-signature', ev.tpm.signature), leaf(n, 'event-log', ev.tpm.eventLog))
      : undefined);
}
