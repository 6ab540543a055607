/**
 * PveClient (src/oam/ports.ts) over RESTCONF (RFC 8040) / HTTPS with a pinned CA: POST of the
 * henb-sw-verify-pve:integrity-request operation with RFC 7951 JSON. Failures are coded:
 *   ERR_PVE_UNREACHABLE   connection refused / reset / DNS / TLS handshake cut, or no connection (TCP and TLS
 *                         handshake) within connectTimeoutMs ("timed out connecting"): the request was not sent
 *   ERR_PVE_TLS           the server certificate does not chain to the pinned CA (or wrong host name)
 *   ERR_PVE_TIMEOUT       the request was sent (or waited for a free pooled connection) and no complete answer came
 *                         within timeoutMs: never retried, the PVE may be appraising it
 *   ERR_PVE_REJECTED      the PVE answered with a RESTCONF error (errorTag, appTag, httpStatus, message)
 *   ERR_PVE_UNKNOWN_HENB  the PVE answered that the H(e)NB is not in its devices file (app-tag unknown-henb)
 *   ERR_PVE_BAD_RESPONSE  the answer is not the operation's output
 *   ERR_PVE_ABORTED       the caller's signal was aborted (the signal's reason is the cause)
 * An integrity request whose connection failed before any answer (before it was sent, or after: a reset, a connection
 * closed before the answer) is sent again, same nonce and body, with jittered backoff within the step's deadline
 * (./retry.ts; the PVE answers a repeat with the first request's outcome). A request written on a reused keep-alive
 * connection that the PVE had already closed (reset or closed before any
 * byte of an answer: the race of a server's idle timeout with our write, RFC 9112 section 9.3.1) is sent once more
 * on a new connection of its own, at once: see staleConnection below.
 * Given the OAM's ReferenceValuesSigner, the client signs reference values as they leave
 * (signAndProvideReferenceValues): one H(e)NB's alone as a statement, those made while others are on their way as one
 * list statement of provide-reference-values-list (one signature for them all; issue 15).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { urlToHttpOptions } from 'node:url';
import { HsvError } from '../errors.js';
import type {
  PostUpdateEvidence, PreUpdateEvidence, PveClient, PveClientErrorCode, PveFailure, PveIntegrityRequest, ReferenceValuesInput, ReferenceValuesSigner,
} from '../oam/index.js';
import { PVE_HENB_UNKNOWN } from '../oam/index.js';
import {
  INPUT_MEMBER, INTEGRITY_REQUESTS_PATH, INTEGRITY_REQUEST_PATH, OUTPUT_MEMBER, PROVIDE_INPUT_MEMBER, PROVIDE_REFERENCE_VALUES_PATH, YANG_JSON,
  PROVIDE_LIST_PATH, base64urlToBase64, errorsDocument, statusForTag,
} from './restconf.js';
import type { RestconfErrorEntry } from './restconf.js';
import { RequestBatcher } from './batcher.js';
import type { BatchSender } from './batcher.js';
import { retryUnanswered } from './retry.js';
import type { PveRetryOptions } from './retry.js';

/** codes: the PveClient port's (src/oam/ports.ts); appTag as the port's PveFailure says */
export class PveClientError extends HsvError<PveClientErrorCode> implements PveFailure {
  /** RESTCONF error-tag / error-app-tag / HTTP status, for ERR_PVE_REJECTED */
  errorTag?: string;
  appTag?: string;
  httpStatus?: number;
  /** ERR_PVE_UNREACHABLE only: the connection failed before the request was written (safe to retry: ./retry.ts) */
  notSent?: boolean;
  /**
   * ERR_PVE_UNREACHABLE only: the connection failed (reset, closed) after the request was written, before a whole
   * answer came back: the PVE may have received it. An integrity request is sent again with the same nonce and body
   * (./retry.ts): the PVE answers a repeat with the first request's outcome.
   */
  unanswered?: boolean;
  /**
   * ERR_PVE_UNREACHABLE only: written on a reused keep-alive connection that failed (reset, EPIPE, closed) before any
   * byte of an answer came back. The PVE closes an idle connection without reading what arrives after; that race is
   * the only failure after writing that the client repeats, once, on a new connection (Node's http documentation,
   * request.reusedSocket; undici does the same for idempotent requests). Safe for this module: the PVE answers a
   * repeated integrity request with the first one's outcome (src/pve/request-outcomes.ts), and
   * provide-reference-values stores the same signed set again.
   */
  staleConnection?: boolean;
}

/** socket errors of a connection the peer closed or reset ('socket hang up' is ECONNRESET) */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export interface PveClientOptions {
  /** base URL, e.g. https://127.0.0.1:8443 */
  url: string;
  /** PEM of the CA to trust (pinned: the system CAs are not used) */
  ca: string;
  /** whole-request timeout, ms (default 15000) */
  timeoutMs?: number;
  /**
   * connect timeout, ms (default 10000; at most timeoutMs): a new connection's TCP connect and TLS handshake must be
   * done within it, else the attempt fails before the request was written (notSent: retried, ./retry.ts). Counted
   * from the moment the request gets its connection, not while it waits in the pool for a free one.
   */
  connectTimeoutMs?: number;
  /** TLS server name to check, when it differs from the URL's host */
  servername?: string;
  /** retry of integrity requests whose connection failed before they were sent (./retry.ts) */
  retry?: PveRetryOptions;
  /**
   * integrity requests with evidence or a completion to appraise, sent together (integrity-requests, ./batcher.ts)
   * while others are on their way: maxRequests per operation (default 32; 1: each alone), maxInFlight operations
   * before requests wait to go together (default 2)
   */
  batch?: { maxRequests?: number; maxInFlight?: number };
  /** told of each operation sent (retries too): its name and how many requests or statements it carried */
  onSent?: (operation: string, entries: number) => void;
  /** told when the PVE refused a list operation as unknown (an older PVE): one entry per operation from then on (once per operation) */
  onBatchUnsupported?: (e: unknown) => void;
  /**
   * the OAM's signing of reference values: with it the client has signAndProvideReferenceValues, which signs the values
   * when they leave, alone (a single statement, provide-reference-values) or with others made while some are on their
   * way (one list statement, provide-reference-values-list's reference-values-list: one signature for them all)
   */
  referenceValuesSigner?: ReferenceValuesSigner;
}

export interface PveIntegrityResult {
  token: string;
  /** the unsigned copy of the verdict (trust only the token) */
  earStatus: string;
  reason?: string;
}

export interface RestconfPveClient extends PveClient {
  integrityRequest(req: PveIntegrityRequest, signal: AbortSignal, deadline?: number): Promise<PveIntegrityResult>;
  provideReferenceValues(jws: string, signal: AbortSignal): Promise<void>;
  /** release pooled connections */
  close(): void;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID',
]);

function err(code: PveClientErrorCode, message: string, cause?: unknown): PveClientError {
  return new PveClientError(code, message, cause !== undefined ? { cause } : undefined);
}

/** the PVE's base URL: a URL, and https */
function baseUrlOf(url: string): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch (e) {
    throw err('ERR_PVE_CONFIG', `PVE url is not a URL: ${JSON.stringify(url)}`, e);
  }
  if (base.protocol !== 'https:') throw err('ERR_PVE_CONFIG', 'PVE url must be https:');
  return base;
}

export function createPveClient(options: PveClientOptions): RestconfPveClient {
  const base = baseUrlOf(options.url);
  const poster = new RestconfPoster(options, base);
  const target = endpointOf(new URL(INTEGRITY_REQUEST_PATH, base));
  const batchTarget = endpointOf(new URL(INTEGRITY_REQUESTS_PATH, base));
  const batchOptions = { ...options.batch, ...(options.onBatchUnsupported !== undefined ? { onUnsupported: options.onBatchUnsupported } : {}) };
  const batcher = new RequestBatcher<PveIntegrityResult>({
    one: (input, signal) => integrityRequestOnce(poster, target, input, signal),
    many: (inputs, signal) => integrityRequestsOnce(poster, batchTarget, inputs, signal),
    unsupported: unsupportedOperation,
    aborted: (signal) => err('ERR_PVE_ABORTED', 'the integrity request was aborted', signal.reason),
  }, batchOptions);
  const statements = statementSenders(poster, base, options.referenceValuesSigner);
  const provideBatcher = new RequestBatcher<void>(statements.signed, batchOptions);
  const unsigned = statements.unsigned !== undefined ? new RequestBatcher<void, ReferenceValuesInput>(statements.unsigned, { ...batchOptions, sizeOf: statementSize }) : undefined;
  const retry = options.retry ?? {};

  return {
    close() {
      poster.close();
    },
    async integrityRequest(req, signal, deadline) {
      const input = integrityInputText(req);
      // evidence or a completion to appraise (relay): together with others under load; a collection (seconds on the
      // device) alone, so that no request waits for another device's collection
      const once = req.evidence !== undefined || req.completion !== undefined
        ? (): Promise<PveIntegrityResult> => batcher.submit(input, signal)
        : (): Promise<PveIntegrityResult> => integrityRequestOnce(poster, target, input, signal);
      return retryUnanswered(once, retry, err, signal, 'the integrity request', deadline);
    },
    async provideReferenceValues(jws, signal) {
      // Sent again like an integrity request when its answer was lost: the PVE answers a repeat of the statement it
      // holds as accepted (src/pve/provided.ts)
      await retryUnanswered(() => provideBatcher.submit(jws, signal), retry, err, signal, 'provide-reference-values');
    },
    ...(unsigned !== undefined ? {
      // sent again, signed again, when the answer was lost: the new statement is as new as the first (src/pve/provided.ts)
      signAndProvideReferenceValues: (values: ReferenceValuesInput, signal: AbortSignal) =>
        retryUnanswered(() => unsigned.submit(values, signal), retry, err, signal, 'provide-reference-values'),
    } : {}),
  };
}

/** about how many characters an H(e)NB's values take in a list statement (the batcher's maxBytes): base64url of their JSON */
export function statementSize(values: ReferenceValuesInput): number {
  return Math.ceil((JSON.stringify(values).length * 4) / 3) + 64;
}

/**
 * The senders of reference-value statements: `signed`, statements signed by the OAM already (alone, or several as the
 * statements of provide-reference-values-list); `unsigned`, with a signer only, the values signed as they leave (alone
 * as a statement, several as one list statement)
 */
function statementSenders(poster: RestconfPoster, base: URL, signer: ReferenceValuesSigner | undefined): { signed: BatchSender<void>; unsigned?: BatchSender<void, ReferenceValuesInput> } {
  const provideTarget = endpointOf(new URL(PROVIDE_REFERENCE_VALUES_PATH, base));
  const listTarget = endpointOf(new URL(PROVIDE_LIST_PATH, base));
  // RFC 8040 section 3.6.2: an operation without output answers 204 No Content
  const one = async (jws: string, signal: AbortSignal): Promise<void> => {
    poster.sent('provide-reference-values', 1);
    await poster.post(provideTarget, { [PROVIDE_INPUT_MEMBER]: { 'reference-values': jws } }, signal, 'provide-reference-values');
  };
  const aborted = (signal: AbortSignal): PveClientError => err('ERR_PVE_ABORTED', 'provide-reference-values was aborted', signal.reason);
  const signed: BatchSender<void> = { one, many: (jwss, signal) => provideListOnce(poster, listTarget, jwss, signal), unsupported: unsupportedOperation, aborted };
  if (signer === undefined) return { signed };
  return {
    signed,
    unsigned: {
      one: async (values, signal) => one(await signer.one(values), signal),
      many: async (values, signal) => provideSignedListOnce(poster, listTarget, await signer.list(values), values.length, signal),
      // a PVE whose provide-reference-values-list has no list statement (unknown-element) takes the statements alone
      unsupported: (e) => unsupportedOperation(e) || (e instanceof PveClientError && e.errorTag === 'unknown-element'),
      aborted,
    },
  };
}

/** an integrity request's input (integrity-request/input, RFC 7951 JSON) as text: sent alone or in integrity-requests */
function integrityInputText(req: PveIntegrityRequest): string {
  const input: Record<string, unknown> = { 'henb-id': req.henbId, 'nonce-value': base64urlToBase64(req.nonce) };
  if (req.jobId) input['job-id'] = req.jobId;
  if (req.completion !== undefined) input.completion = completionJson(req.completion);
  if (req.evidence !== undefined) input.evidence = relayedEvidenceJson(req.evidence);
  return JSON.stringify(input);
}

/** one integrity request (its input's text) and the attestation result in its answer (retryUnanswered repeats it, same nonce and body, when its connection failed before an answer) */
async function integrityRequestOnce(poster: RestconfPoster, target: Endpoint, input: string, signal: AbortSignal): Promise<PveIntegrityResult> {
  poster.sent('integrity-request', 1);
  const { json } = await poster.postText(target, `{${JSON.stringify(INPUT_MEMBER)}:${input}}`, signal, 'the integrity request');
  const out = (json as Record<string, unknown> | undefined)?.[OUTPUT_MEMBER] as Record<string, unknown> | undefined;
  const r = integrityResult(out);
  if (r === undefined) throw err('ERR_PVE_BAD_RESPONSE', `the PVE answer is not ${OUTPUT_MEMBER} with attestation-result`);
  return r;
}

/** an output's (or a result's) ear-status, attestation-result and reason; undefined when it has none */
function integrityResult(out: Record<string, unknown> | undefined): PveIntegrityResult | undefined {
  const token = out?.['attestation-result'];
  const earStatus = out?.['ear-status'];
  if (typeof token !== 'string' || typeof earStatus !== 'string') return undefined;
  const v: PveIntegrityResult = { token, earStatus };
  if (typeof out?.reason === 'string') v.reason = out.reason;
  return v;
}

/** integrity-requests: the inputs (texts) as its list request, index = position; each result as `many` wants it */
async function integrityRequestsOnce(poster: RestconfPoster, target: Endpoint, inputs: readonly string[], signal: AbortSignal): Promise<Array<{ ok: true; value: PveIntegrityResult } | { ok: false; error: unknown }>> {
  const entries = inputs.map((t, i) => (t === '{}' ? `{"index":${i}}` : `{"index":${i},${t.slice(1)}`));
  poster.sent('integrity-requests', inputs.length);
  const { json } = await poster.postText(target, `{${JSON.stringify(INPUT_MEMBER)}:{"request":[${entries.join(',')}]}}`, signal, 'the integrity requests');
  return listOutcomes(json, inputs.length, 'the integrity request', (r) => {
    const v = integrityResult(r);
    return v !== undefined ? { ok: true, value: v } : undefined;
  });
}

/** provide-reference-values-list: the statements as its list statement, index = position; each result as `many` wants it */
async function provideListOnce(poster: RestconfPoster, target: Endpoint, jwss: readonly string[], signal: AbortSignal): Promise<Array<{ ok: true; value: undefined } | { ok: false; error: unknown }>> {
  const entries = jwss.map((jws, i) => `{"index":${i},"reference-values":${JSON.stringify(jws)}}`);
  return provideListText(poster, target, `"statement":[${entries.join(',')}]`, jwss.length, signal);
}

/** provide-reference-values-list with one list statement of `n` entries; each entry's result (index = its position) as `many` wants it */
function provideSignedListOnce(poster: RestconfPoster, target: Endpoint, jws: string, n: number, signal: AbortSignal): Promise<Array<{ ok: true; value: undefined } | { ok: false; error: unknown }>> {
  return provideListText(poster, target, `"reference-values-list":${JSON.stringify(jws)}`, n, signal);
}

/** provide-reference-values-list with `members` (JSON text: the statements, or the one list statement) as its input; the `n` entries' outcomes */
async function provideListText(poster: RestconfPoster, target: Endpoint, members: string, n: number, signal: AbortSignal): Promise<Array<{ ok: true; value: undefined } | { ok: false; error: unknown }>> {
  poster.sent('provide-reference-values-list', n);
  const { json } = await poster.postText(target, `{${JSON.stringify(PROVIDE_INPUT_MEMBER)}:{${members}}}`, signal, 'provide-reference-values-list');
  return listOutcomes(json, n, 'provide-reference-values', (r) => (r.accepted !== undefined ? { ok: true, value: undefined } : undefined));
}

/**
 * A list operation's answer (output/result, by index): each entry's outcome as `read` makes it, or the PveClientError
 * of its error (as `rejected` makes it from an errors document, with the HTTP status its error-tag maps to)
 */
function listOutcomes<T>(json: unknown, n: number, what: string, read: (r: Record<string, unknown>) => { ok: true; value: T } | undefined): Array<{ ok: true; value: T } | { ok: false; error: unknown }> {
  const list = ((json as Record<string, unknown> | undefined)?.[OUTPUT_MEMBER] as Record<string, unknown> | undefined)?.result;
  if (!Array.isArray(list)) throw err('ERR_PVE_BAD_RESPONSE', `the PVE answer is not ${OUTPUT_MEMBER} with a result list`);
  const byIndex = new Map<unknown, Record<string, unknown>>();
  for (const r of list) if (typeof r === 'object' && r !== null) byIndex.set((r as Record<string, unknown>).index, r as Record<string, unknown>);
  return Array.from({ length: n }, (_, i) => {
    const r = byIndex.get(i);
    if (r === undefined) return { ok: false, error: err('ERR_PVE_BAD_RESPONSE', `the PVE answer has no result for entry ${i} of its list (${what})`) };
    const e = r.error as Partial<RestconfErrorEntry> | undefined;
    if (typeof e === 'object' && e !== null) {
      const tag = typeof e['error-tag'] === 'string' ? e['error-tag'] : 'operation-failed';
      return { ok: false, error: rejected(statusForTag(tag), errorsDocument([e as RestconfErrorEntry]), what) };
    }
    return read(r) ?? { ok: false, error: err('ERR_PVE_BAD_RESPONSE', `the PVE's result for entry ${i} of its list (${what}) has no outcome`) };
  });
}

/** whether a list operation was refused as unknown: an older PVE (this PVE's 404; RFC 8040 servers 404, 405 or operation-not-supported) */
function unsupportedOperation(e: unknown): boolean {
  return e instanceof PveClientError && e.code === 'ERR_PVE_REJECTED'
    && (e.httpStatus === 404 || e.httpStatus === 405 || e.httpStatus === 501 || e.errorTag === 'operation-not-supported');
}

/**
 * Where an operation is POSTed: what node:https makes of its URL (urlToHttpOptions: protocol, hostname without IPv6
 * brackets, port, path, auth), made once per client rather than for each request from the URL.
 */
type Endpoint = Pick<RequestOptions, 'protocol' | 'hostname' | 'port' | 'path' | 'auth'>;

function endpointOf(url: URL): Endpoint {
  const o = urlToHttpOptions(url);
  return {
    protocol: o.protocol, hostname: o.hostname, path: o.path,
    ...(o.port !== undefined ? { port: o.port } : {}), ...(o.auth !== undefined ? { auth: o.auth } : {}),
  };
}

/** a 2xx answer: its status, and its JSON when there is a body */
interface PostAnswer {
  status: number;
  json: unknown;
}

/** POSTs to the PVE: the keep-alive pool, the time limit, the TLS options of a connection of its own. */
class RestconfPoster {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  private readonly agent: Agent;
  /**
   * The pinned CA and TLS 1.2+, made once and given to every connection (pooled or fresh) as its secureContext rather
   * than as `ca`: with `ca`, tls.connect makes a secure context of its own for each new connection (~0.4 ms of the
   * OAM's main thread each, bench/_pve-client.ts --reconnect), and the https.Agent names its pool, on each request,
   * by a key that holds the whole PEM text. The trust is the same: only this CA, the server's name checked.
   */
  private readonly secureContext: SecureContext;

  constructor(private readonly options: PveClientOptions, readonly base: URL) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.connectTimeoutMs = Math.min(options.connectTimeoutMs ?? 10_000, this.timeoutMs);
    this.secureContext = createSecureContext({ ca: options.ca, minVersion: 'TLSv1.2' });
    this.agent = new Agent({ secureContext: this.secureContext, keepAlive: true, maxSockets: 16 });
  }

  /** release pooled connections */
  close(): void {
    this.agent.destroy();
  }

  /** an operation is sent (options.onSent) */
  sent(operation: string, entries: number): void {
    this.options.onSent?.(operation, entries);
  }

  /** POST an operation's input; resolves with the 2xx answer (JSON when there is a body), rejects coded. */
  post(url: Endpoint, input: unknown, signal: AbortSignal, what: string): Promise<PostAnswer> {
    return this.postText(url, JSON.stringify(input), signal, what);
  }

  /** post() of a body already JSON text */
  async postText(url: Endpoint, body: string, signal: AbortSignal, what: string): Promise<PostAnswer> {
    try {
      return await this.postOnce(url, body, signal, what, false);
    } catch (e) {
      if (!(e instanceof PveClientError) || e.staleConnection !== true) throw e;
      return this.postOnce(url, body, signal, what, true);
    }
  }

  /** one POST; fresh: on a connection of its own (not from the keep-alive pool) */
  private postOnce(url: Endpoint, body: string, signal: AbortSignal, what: string, fresh: boolean): Promise<PostAnswer> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(err('ERR_PVE_ABORTED', `${what} was aborted`, signal.reason));
        return;
      }
      new PostAttempt(this, signal, what, fresh, resolve, reject).send(url, body);
    });
  }

  /** the request's options: to `url`, pooled, or fresh on a connection of its own */
  requestOptions(url: Endpoint, body: string, fresh: boolean): RequestOptions {
    const { options } = this;
    return {
      ...url,
      method: 'POST',
      ...(fresh ? { agent: false as const, secureContext: this.secureContext } : { agent: this.agent }),
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      headers: { 'Content-Type': YANG_JSON, Accept: YANG_JSON, 'Content-Length': Buffer.byteLength(body) },
    };
  }
}

/** One POST on its way, settled once: by its answer, a request error, the time limit or the caller's signal. */
class PostAttempt {
  private settled = false;
  private timer!: NodeJS.Timeout;
  private connectTimer: NodeJS.Timeout | undefined;
  private req!: ClientRequest;
  // the connection the request got (undefined while it waits in the agent's pool for a free one)
  private sock: Socket | undefined;
  // written: the request may have reached the PVE (a new connection once its TLS handshake is done, a reused one at once)
  private written = false;
  // reused: the request went on a pooled keep-alive connection; answered: a byte of the answer came back
  private reused = false;
  private answered = false;
  private readonly onAbort = (): void => this.finish(err('ERR_PVE_ABORTED', `${this.what} was aborted`, this.signal.reason));

  constructor(
    private readonly poster: RestconfPoster,
    private readonly signal: AbortSignal,
    private readonly what: string,
    private readonly fresh: boolean,
    private readonly resolve: (v: PostAnswer) => void,
    private readonly reject: (e: PveClientError) => void,
  ) {}

  send(url: Endpoint, body: string): void {
    this.timer = setTimeout(() => this.finish(this.sock !== undefined && !this.written
      ? this.connectTimedOut(this.poster.timeoutMs)
      : err('ERR_PVE_TIMEOUT', `the PVE did not answer within ${this.poster.timeoutMs} ms`)), this.poster.timeoutMs);
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    this.req = request(this.poster.requestOptions(url, body, this.fresh), (res) => this.onResponse(res));
    this.req.on('socket', (sock) => this.onSocket(sock));
    this.req.on('error', (e: NodeJS.ErrnoException) => this.onError(e));
    this.req.end(body);
  }

  private finish(e: PveClientError | undefined, v?: PostAnswer): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    clearTimeout(this.connectTimer);
    this.signal.removeEventListener('abort', this.onAbort);
    if (e) {
      this.req.destroy();
      this.reject(e);
    } else this.resolve(v!);
  }

  /** the answer's body (at most 1 MiB), then its status */
  private onResponse(res: IncomingMessage): void {
    this.answered = true;
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1024 * 1024) this.finish(err('ERR_PVE_BAD_RESPONSE', 'the PVE answer is too large'));
      else chunks.push(c);
    });
    res.on('error', (e) => {
      const x = err('ERR_PVE_UNREACHABLE', 'the PVE connection broke during its answer', e);
      x.unanswered = true;
      this.finish(x);
    });
    // one chunk (an answer of a few KiB) is decoded as it came, without Buffer.concat's copy
    res.on('end', () => this.onEnd(res, (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')));
  }

  /** the whole answer: its JSON (when it parses); a 2xx resolves, any other status is the PVE's refusal */
  private onEnd(res: IncomingMessage, text: string): void {
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) this.finish(rejected(status, json, this.what));
    else this.finish(undefined, { status, json });
  }

  /**
   * written once the TLS handshake of a new connection is done, at once on a pooled one; a new connection has
   * connectTimeoutMs for its TCP connect and TLS handshake
   */
  private onSocket(sock: Socket): void {
    this.sock = sock;
    this.reused = this.req.reusedSocket;
    if (sock.connecting || !(sock as { encrypted?: boolean; authorized?: boolean }).authorized) {
      this.connectTimer = setTimeout(() => this.finish(this.connectTimedOut(this.poster.connectTimeoutMs)), this.poster.connectTimeoutMs);
      sock.once('secureConnect', () => {
        this.written = true;
        clearTimeout(this.connectTimer);
      });
    } else this.written = true;
  }

  /**
   * no connection within `ms`: the TCP connect or the TLS handshake did not finish, so the request was not written
   * (notSent: retried within the step's deadline, ./retry.ts); the message names the phase that timed out
   */
  private connectTimedOut(ms: number): PveClientError {
    const phase = this.sock?.connecting === true ? 'no TCP connection' : 'no TLS handshake';
    const x = err('ERR_PVE_UNREACHABLE', `timed out connecting to the PVE at ${this.poster.base.host}: ${phase} within ${ms} ms`);
    x.notSent = true;
    return x;
  }

  /**
   * a TLS failure, or the PVE unreachable: before the request was written (notSent), on a stale keep-alive connection
   * (sent once more at once), or after it was written, before the answer (unanswered)
   */
  private onError(e: NodeJS.ErrnoException): void {
    if (e.code !== undefined && TLS_CODES.has(e.code)) {
      this.finish(err('ERR_PVE_TLS', `the PVE's certificate is not trusted (${e.code})`, e));
    } else {
      const x = err('ERR_PVE_UNREACHABLE', `cannot reach the PVE at ${this.poster.base.host}${e.code !== undefined ? ` (${e.code})` : ''}`, e);
      if (!this.written) x.notSent = true;
      else if (this.reused && !this.answered && !this.fresh && e.code !== undefined && STALE_CODES.has(e.code)) x.staleConnection = true;
      else if (e.code !== undefined && STALE_CODES.has(e.code)) x.unanswered = true;
      this.finish(x);
    }
  }
}

function rejected(status: number, json: unknown, what: string): PveClientError {
  const list = ((json as Record<string, unknown> | undefined)?.['ietf-restconf:errors'] as { error?: unknown } | undefined)?.error;
  const first = Array.isArray(list) ? (list[0] as Partial<RestconfErrorEntry> | undefined) : undefined;
  const tag = typeof first?.['error-tag'] === 'string' ? first['error-tag'] : undefined;
  const appTag = typeof first?.['error-app-tag'] === 'string' ? first['error-app-tag'] : undefined;
  const msg = typeof first?.['error-message'] === 'string' ? first['error-message'] : undefined;
  const e = appTag === PVE_HENB_UNKNOWN
    ? err('ERR_PVE_UNKNOWN_HENB', `the PVE does not know this H(e)NB (HTTP ${status} ${appTag}${msg !== undefined ? `: ${msg}` : ''}); add it to the PVE's devices file`)
    : err('ERR_PVE_REJECTED', `the PVE refused ${what}: HTTP ${status}` +
      (tag !== undefined ? ` ${tag}` : '') + (appTag !== undefined ? ` (${appTag})` : '') + (msg !== undefined ? `: ${msg}` : ''));
  e.httpStatus = status;
  if (tag !== undefined) e.errorTag = tag;
  if (appTag !== undefined) e.appTag = appTag;
  return e;
}

/** The post-update completion as the PVE module's RFC 7951 JSON (integrity-request input/completion). */
export function completionJson(c: PostUpdateEvidence): Record<string, unknown> {
  const ev = c.evidence;
  return {
    status: c.status,
    ...(c.selfCheck !== undefined ? { 'self-check': c.selfCheck } : {}),
    ...(c.softwareVersion !== undefined ? { 'software-version': c.softwareVersion } : {}),
    tim: c.tim,
    'measurement-log': { entry: c.measurementLog.map((e, index) => ({ index, component: e.component, digest: e.digest })) },
    evidence: {
      'evidence-format': ev.format, 'nonce-value': base64urlToBase64(ev.nonce), 'signature-algorithm': ev.signatureAlgorithm,
      ...(ev.keyId !== undefined ? { 'key-id': ev.keyId } : {}),
      signature: ev.signature,
      ...(ev.quote !== undefined ? { quote: ev.quote } : {}),
      ...(ev.eventLog !== undefined ? { 'event-log': ev.eventLog } : {}),
    },
  };
}

/** The relayed pre-update evidence as the PVE module's RFC 7951 JSON (integrity-request input/evidence). */
export function relayedEvidenceJson(ev: PreUpdateEvidence): Record<string, unknown> {
  return {
    'evidence-format': ev.format,
    tim: ev.tim,
    'measurement-log': { entry: ev.measurementLog.map((e, index) => ({ index, component: e.component, digest: e.digest })) },
    ...(ev.softwareVersion !== undefined ? { 'software-version': ev.softwareVersion } : {}),
    ...(ev.signatureAlgorithm !== '' ? { 'signature-algorithm': ev.signatureAlgorithm } : {}),
    ...(ev.keyId !== undefined ? { 'key-id': ev.keyId } : {}),
    ...(ev.signature !== '' ? { signature: ev.signature } : {}),
    ...(ev.tpm !== undefined ? {
      'tpm2-quote': { 'certificate-name': ev.tpm.certificateName, quote: ev.tpm.quote, 'quote-signature': ev.tpm.signature, 'event-log': ev.tpm.eventLog },
    } : {}),
  };
}
