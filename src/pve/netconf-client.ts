/**
 * PveClient (src/oam/ports.ts) over NETCONF/SSH: the hsvp:integrity-request RPC on the PVE's NETCONF
 * endpoint, host key pinned, one short session per operation; requests with evidence or a completion to appraise,
 * and statements, made while others are on their way go together in one session and one list operation
 * (integrity-requests, provide-reference-values-list: ./batcher.ts), as the RESTCONF client does. Errors use the codes of the RESTCONF client
 * (./client.ts): ERR_PVE_UNREACHABLE (connection; the device-layer code is in the message; or no NETCONF session,
 * i.e. TCP connect, SSH or TLS handshake and hello, within connectTimeoutMs: "timed out connecting", the request not
 * sent), ERR_PVE_AUTH, ERR_PVE_HOST_KEY (host key not the pinned one, or none pinned),
 * ERR_PVE_TIMEOUT (the request was sent and no reply came within timeoutMs: never retried), ERR_PVE_REJECTED
 * (rpc-error: errorTag, appTag), ERR_PVE_UNKNOWN_HENB (app-tag unknown-henb), ERR_PVE_BAD_RESPONSE, ERR_PVE_ABORTED.
 */
import { connectDevice } from '../device/index.js';
import type { DeviceConnector, DeviceTarget } from '../device/index.js';
import { NetconfError } from '../netconf/rpc-error.js';
import type { ErrorTag, ErrorType } from '../netconf/rpc-error.js';
import { RequestBatcher } from './batcher.js';
import type { BatchSender } from './batcher.js';
import { NETCONF_BASE_NS, child, childText, childrenNamed, el, leaf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { PostUpdateEvidence, PreUpdateEvidence, PveClientErrorCode, PveIntegrityRequest, ReferenceValuesInput, ReferenceValuesSigner } from '../oam/index.js';
import { PVE_HENB_UNKNOWN } from '../oam/index.js';
import { PveClientError, statementSize } from './client.js';
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
  /** as the RESTCONF client's (./client.ts): requests and statements made while others are on their way, together */
  batch?: { maxRequests?: number; maxInFlight?: number };
  /** told of each operation sent (retries too): its name and how many requests or statements it carried */
  onSent?: (operation: string, entries: number) => void;
  /** told when the PVE refused a list operation as unknown (an older PVE): one per operation from then on */
  onBatchUnsupported?: (e: unknown) => void;
  /** as the RESTCONF client's (./client.ts): with it, signAndProvideReferenceValues (several values, one list statement) */
  referenceValuesSigner?: ReferenceValuesSigner;
}

export interface NetconfPveClient {
  integrityRequest(req: PveIntegrityRequest, signal: AbortSignal, deadline?: number): Promise<PveIntegrityResult>;
  provideReferenceValues(jws: string, signal: AbortSignal): Promise<void>;
  signAndProvideReferenceValues?(values: ReferenceValuesInput, signal: AbortSignal): Promise<void>;
  close(): void;
}

function err(code: PveClientErrorCode, message: string, cause?: unknown): PveClientError {
  return new PveClientError(code, message, cause !== undefined ? { cause } : undefined);
}

/** a session to the PVE's NETCONF endpoint */
type PveSession = Awaited<ReturnType<DeviceConnector>>;

export function createNetconfPveClient(options: NetconfPveClientOptions): NetconfPveClient {
  const pve = new PveSessions(options);
  const batchOptions = { ...options.batch, ...(options.onBatchUnsupported !== undefined ? { onUnsupported: options.onBatchUnsupported } : {}) };
  // requests with evidence or a completion to appraise, and statements, made while others are on their way: together,
  // in one session and one list operation (./batcher.ts), instead of a session each
  const single = integrityRequests(pve, options.onSent);
  const requests = new RequestBatcher(single, batchOptions);
  const statements = new RequestBatcher(referenceValueStatements(pve, options.onSent), batchOptions);
  const signer = options.referenceValuesSigner;
  const unsigned = signer !== undefined ? new RequestBatcher(signedOnLeaving(pve, options.onSent, signer), { ...batchOptions, sizeOf: statementSize }) : undefined;
  const retry = options.retry ?? {};
  return {
    close() {
      // sessions are per operation
    },
    integrityRequest(req, signal, deadline) {
      // a collection by the PVE (seconds on the device) goes alone: no request waits for another device
      const once = req.evidence !== undefined || req.completion !== undefined
        ? (): Promise<PveIntegrityResult> => requests.submit(req, signal)
        : (): Promise<PveIntegrityResult> => single.one(req, signal);
      return retryUnanswered(once, options.retry ?? {}, err, signal, 'the integrity request', deadline);
    },
    provideReferenceValues(jws, signal) {
      // sent again when its answer was lost: the PVE answers a repeat of the statement it holds as accepted
      return retryUnanswered(() => statements.submit(jws, signal), retry, err, signal, 'provide-reference-values');
    },
    ...(unsigned !== undefined ? {
      // sent again, signed again, when the answer was lost: the new statement is as new as the first
      signAndProvideReferenceValues: (values: ReferenceValuesInput, signal: AbortSignal) =>
        retryUnanswered(() => unsigned.submit(values, signal), retry, err, signal, 'provide-reference-values'),
    } : {}),
  };
}

type OnSent = NetconfPveClientOptions['onSent'];

/** integrity requests alone (integrity-request) and together (integrity-requests), a session each operation */
function integrityRequests(pve: PveSessions, onSent: OnSent): BatchSender<PveIntegrityResult, PveIntegrityRequest> {
  return {
    one: (req, signal) => pve.call(signal, 'the integrity request', async (session, rpcSignal) => {
      onSent?.('integrity-request', 1);
      return integrityResultOf(await session.rpc(el(PVE_NS, 'integrity-request', ...integrityInput(req)), { signal: rpcSignal, timeoutMs: pve.timeoutMs }));
    }),
    many: (reqs, signal) => pve.call(signal, 'the integrity requests', async (session, rpcSignal) => {
      onSent?.('integrity-requests', reqs.length);
      const reply = await session.rpc(el(PVE_NS, 'integrity-requests', ...reqs.map((r, i) => el(PVE_NS, 'request', leaf(PVE_NS, 'index', String(i)), ...integrityInput(r)))),
        { signal: rpcSignal, timeoutMs: pve.timeoutMs });
      return listOutcomes(reply, reqs.length, 'the integrity request', (r) => integrityResultOf(r));
    }),
    unsupported: unsupportedOperation,
    aborted: (signal) => err('ERR_PVE_ABORTED', 'the integrity request was aborted', signal.reason),
  };
}

/** reference-value statements alone (provide-reference-values) and together (provide-reference-values-list) */
function referenceValueStatements(pve: PveSessions, onSent: OnSent): BatchSender<void> {
  return {
    one: (jws, signal) => pve.call(signal, 'provide-reference-values', async (session, rpcSignal) => {
      onSent?.('provide-reference-values', 1);
      const reply = await session.rpc(el(PVE_NS, 'provide-reference-values', leaf(PVE_NS, 'reference-values', jws)), { signal: rpcSignal, timeoutMs: pve.timeoutMs });
      if (child(reply, NETCONF_BASE_NS, 'ok') === undefined) throw err('ERR_PVE_BAD_RESPONSE', 'the PVE did not answer provide-reference-values with ok');
    }),
    many: (jwss, signal) => provideList(pve, onSent, jwss.length, signal,
      jwss.map((jws, i) => el(PVE_NS, 'statement', leaf(PVE_NS, 'index', String(i)), leaf(PVE_NS, 'reference-values', jws)))),
    unsupported: unsupportedOperation,
    aborted: (signal) => err('ERR_PVE_ABORTED', 'provide-reference-values was aborted', signal.reason),
  };
}

/** provide-reference-values-list with `input` (its statements, or its one list statement): the `n` entries' outcomes by index */
function provideList(pve: PveSessions, onSent: OnSent, n: number, signal: AbortSignal, input: XmlElement[]): ReturnType<BatchSender<void>['many']> {
  return pve.call(signal, 'provide-reference-values-list', async (session, rpcSignal) => {
    onSent?.('provide-reference-values-list', n);
    const reply = await session.rpc(el(PVE_NS, 'provide-reference-values-list', ...input), { signal: rpcSignal, timeoutMs: pve.timeoutMs });
    return listOutcomes(reply, n, 'provide-reference-values', (r) => {
      if (child(r, PVE_NS, 'accepted') === undefined) throw err('ERR_PVE_BAD_RESPONSE', 'a result of provide-reference-values-list is neither accepted nor an error');
    });
  });
}

/**
 * reference values signed as they leave (`signer`): alone as a statement (provide-reference-values), several as one
 * list statement (provide-reference-values-list's reference-values-list: one signature)
 */
function signedOnLeaving(pve: PveSessions, onSent: OnSent, signer: ReferenceValuesSigner): BatchSender<void, ReferenceValuesInput> {
  const statements = referenceValueStatements(pve, onSent);
  return {
    one: async (values, signal) => statements.one(await signer.one(values), signal),
    many: async (values, signal) => provideList(pve, onSent, values.length, signal, [leaf(PVE_NS, 'reference-values-list', await signer.list(values))]),
    unsupported: statements.unsupported,
    aborted: statements.aborted,
  };
}

/** an integrity request's input leaves (integrity-request, or a request of integrity-requests after its index) */
function integrityInput(req: PveIntegrityRequest): Array<XmlElement | undefined> {
  return [
    leaf(PVE_NS, 'henb-id', req.henbId),
    leaf(PVE_NS, 'nonce-value', base64urlToBase64(req.nonce)),
    req.jobId ? leaf(PVE_NS, 'job-id', req.jobId) : undefined,
    req.completion !== undefined ? completionXml(req.completion) : undefined,
    req.evidence !== undefined ? relayedEvidenceXml(req.evidence) : undefined,
  ];
}

/** the attestation result in an rpc-reply (or in a result of integrity-requests) */
function integrityResultOf(reply: XmlElement): PveIntegrityResult {
  const token = childText(reply, PVE_NS, 'attestation-result')?.trim();
  const earStatus = childText(reply, PVE_NS, 'ear-status')?.trim();
  if (!token || !earStatus) throw err('ERR_PVE_BAD_RESPONSE', 'the PVE reply has no attestation-result');
  const out: PveIntegrityResult = { token, earStatus };
  const reason = childText(reply, PVE_NS, 'reason');
  if (reason !== undefined) out.reason = reason;
  return out;
}

/**
 * A list operation's rpc-reply (its result entries, by index): each entry's outcome as `read` makes it (it throws for
 * an entry it cannot read), or the PveClientError its error container says, the same the rpc-error of the single
 * operation gives
 */
function listOutcomes<T>(reply: XmlElement, n: number, what: string, read: (r: XmlElement) => T): Array<{ ok: true; value: T } | { ok: false; error: unknown }> {
  const byIndex = new Map<string, XmlElement>();
  for (const r of childrenNamed(reply, PVE_NS, 'result')) byIndex.set(childText(r, PVE_NS, 'index')?.trim() ?? '', r);
  return Array.from({ length: n }, (_, i) => {
    const r = byIndex.get(String(i));
    if (r === undefined) return { ok: false, error: err('ERR_PVE_BAD_RESPONSE', `the PVE reply has no result for entry ${i} of its list (${what})`) };
    const e = child(r, PVE_NS, 'error');
    if (e !== undefined) {
      const text = (name: string): string | undefined => childText(e, PVE_NS, name)?.trim();
      const tag = text('error-tag') ?? 'operation-failed';
      const appTag = text('error-app-tag');
      const message = text('error-message');
      const path = text('error-path');
      const refusal = new NetconfError({
        type: (text('error-type') ?? 'application') as ErrorType, tag: tag as ErrorTag,
        ...(appTag !== undefined ? { appTag } : {}), ...(message !== undefined ? { message } : {}), ...(path !== undefined ? { path } : {}),
      });
      return { ok: false, error: rejectedBy(refusal, what) };
    }
    try {
      return { ok: true, value: read(r) };
    } catch (x) {
      return { ok: false, error: x };
    }
  });
}

/** whether a list operation was refused as unknown: an older PVE (operation-not-supported, or unknown-element) */
function unsupportedOperation(e: unknown): boolean {
  return e instanceof PveClientError && e.code === 'ERR_PVE_REJECTED' && (e.errorTag === 'operation-not-supported' || e.errorTag === 'unknown-element');
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
