/**
 * The PVE's RESTCONF endpoint (RFC 8040) over HTTPS: the operations integrity-request and provide-reference-values,
 * and their list forms integrity-requests and provide-reference-values-list (./batch.ts) (POST, RFC 7951 JSON), GET /.well-known/host-meta (RFC 8040 section 3.1), GET
 * /jwks.json (the result-signing keys) and the read-only resources of restconf-resources.ts (the root, data =
 * the YANG library, operations, yang-library-version, module texts). Errors are an ietf-restconf:errors document
 * in the encoding the client accepts (RFC 8040 section 7.1).
 */
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Jwks } from '../tokens/index.js';
import { answerBatch, batchList, INTEGRITY_REQUESTS, MAX_BATCH, PROVIDE_LIST, readBatchRequests, readProvideListInput, resultJson } from './batch.js';
import type { BatchResult, SignedListOutcome } from './batch.js';
import { checkProvideLeaves } from './provided.js';
import { checkInputLeaves, inputMember, readInput, readProvideInput } from './input.js';
import { INTEGRITY_REQUESTS_PATH, INTEGRITY_REQUEST_PATH, PROVIDE_LIST_PATH, JWKS_PATH, OUTPUT_MEMBER, PROVIDE_REFERENCE_VALUES_PATH, PVE_MODULE, RestconfError, YANG_JSON, errorsDocument } from './restconf.js';
import type { RestconfErrorEntry } from './restconf.js';
import { MODULE_PATH_PREFIX, YANG_LIBRARY_REVISION, YANG_XML, errorsXml, jsonToXml, moduleText, modulesState, negotiate, pruneDepth, yangLibrary } from './restconf-resources.js';
import { RESTCONF_CLIENT } from './types.js';
import type { IntegrityInput, IntegrityOutput } from './types.js';

const MAX_BODY = 64 * 1024;
/** integrity-requests: as much per request as one integrity-request may have */
const MAX_BATCH_BODY = MAX_BATCH * MAX_BODY;

export interface RestconfEndpointOptions {
  tls: { key: string; cert: string };
  jwks: Jwks;
  /** the core; `client` is who asked (types.ts RESTCONF_CLIENT here) */
  verify: (input: IntegrityInput, client: string) => Promise<IntegrityOutput>;
  provide: (jws: string) => Promise<void>;
  /** provide-reference-values-list's list statement: each entry's outcome (RestconfError when the whole statement is refused) */
  provideList: (jws: string) => Promise<SignedListOutcome[]>;
  /** the longest an integrity-request may take (the device timeout), ms */
  deviceTimeoutMs: number;
  log: Logger;
}

/** The HTTPS server of the endpoint (not yet listening); `sockets` are its open connections (destroyed at close). */
export function createRestconfServer(o: RestconfEndpointOptions): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: o.tls.key, cert: o.tls.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(o, req, res).catch((e: unknown) => sendError(o.log, req, res, e));
  });
  server.requestTimeout = o.deviceTimeoutMs + 20_000;
  server.headersTimeout = 20_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (e) => o.log.debug('TLS client error', { err: e }));
  return { server, sockets };
}

function sendError(log: Logger, req: IncomingMessage, res: ServerResponse, e: unknown): void {
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
}

async function handle(o: RestconfEndpointOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    send(res, 200, 'application/jwk-set+json', JSON.stringify(o.jwks));
    return;
  }
  if (path === INTEGRITY_REQUEST_PATH || path === INTEGRITY_REQUESTS_PATH || path === PROVIDE_REFERENCE_VALUES_PATH || path === PROVIDE_LIST_PATH) return operation(o, req, res, path, url.searchParams);
  if (path === '/restconf' || path.startsWith('/restconf/')) return serveResource(req, res, path, url.searchParams);
  throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'no such resource' }, 404);
}

/** POST of one of the operations (OPTIONS lists the methods) */
async function operation(o: RestconfEndpointOptions, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  if (req.method === 'OPTIONS') return sendOptions(res, 'POST, OPTIONS');
  if (req.method !== 'POST') throw methodNotAllowed('POST, OPTIONS');
  noQuery(query);
  if (path === INTEGRITY_REQUEST_PATH) {
    const r = await o.verify(readInput(await readJson(req)), RESTCONF_CLIENT);
    const out: Record<string, unknown> = { 'ear-status': r.earStatus, 'attestation-result': r.token };
    if (r.reason !== undefined) out.reason = r.reason;
    send(res, 200, YANG_JSON, JSON.stringify({ [OUTPUT_MEMBER]: out }));
    return;
  }
  if (path === INTEGRITY_REQUESTS_PATH) {
    const requests = readBatchRequests(INTEGRITY_REQUESTS, batchList(INTEGRITY_REQUESTS, await readJson(req, MAX_BATCH_BODY)));
    const results = await answerBatch(INTEGRITY_REQUESTS, requests, (leaves) => o.verify(checkInputLeaves(leaves), RESTCONF_CLIENT), o.log);
    send(res, 200, YANG_JSON, JSON.stringify({ [OUTPUT_MEMBER]: { result: results.map(resultJson) } }));
    return;
  }
  if (path === PROVIDE_LIST_PATH) {
    // the statements, each alone, or the one list statement (a choice)
    const input = readProvideListInput(inputMember(await readJson(req, MAX_BATCH_BODY)));
    const results: Array<BatchResult<unknown>> = 'signed' in input
      ? await o.provideList(input.signed)
      : await answerBatch(PROVIDE_LIST, input.statements, (leaves) => o.provide(checkProvideLeaves(leaves)), o.log);
    send(res, 200, YANG_JSON, JSON.stringify({ [OUTPUT_MEMBER]: { result: results.map((r) => ('error' in r ? r : { index: r.index, accepted: [null] })) } }));
    return;
  }
  await o.provide(readProvideInput(await readJson(req)));
  // RFC 8040 section 3.6.2: an operation without output answers 204
  res.writeHead(204, { 'Cache-Control': 'no-store' });
  res.end();
}

/**
 * GET/HEAD/OPTIONS of the RESTCONF resources other than the operations (restconf-resources.ts). Query parameters
 * `content` and `depth` (RFC 8040 4.8.1, 4.8.2) on data; any other parameter is 400 invalid-value.
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
  const { content, depth } = readQuery(query, isData);
  if (p.startsWith(MODULE_PATH_PREFIX)) {
    const m = /^([A-Za-z_][-A-Za-z0-9_.]*)@(\d{4}-\d{2}-\d{2})$/.exec(decodeURIComponent(p.slice(MODULE_PATH_PREFIX.length)));
    const text = m ? moduleText(m[1]!, m[2]!) : undefined;
    if (text === undefined) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': 'no such module' }, 404);
    send(res, 200, 'application/yang', text);
    return;
  }
  const enc = negotiate(req.headers.accept);
  if (enc === undefined) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': `not acceptable; this server sends ${YANG_JSON} or ${YANG_XML}` }, 406);
  const { member, value } = resourceValue(p, requestBase(req), content, depth);
  if (enc === 'json') send(res, 200, YANG_JSON, JSON.stringify({ [member]: value }));
  else send(res, 200, YANG_XML, jsonToXml(member, value));
}

/** the query parameters of a resource: content and depth, on data only, each at most once */
function readQuery(query: URLSearchParams, isData: boolean): { content: string; depth: number } {
  for (const k of query.keys()) {
    if (!isData || (k !== 'content' && k !== 'depth')) throw badQuery(`query parameter ${k} is not supported on this resource`);
    if (query.getAll(k).length > 1) throw badQuery(`query parameter ${k} given more than once`);
  }
  const content = query.get('content') ?? 'all';
  if (!['all', 'config', 'nonconfig'].includes(content)) throw badQuery('content must be config, nonconfig or all');
  const depthText = query.get('depth') ?? 'unbounded';
  const depth = depthText === 'unbounded' ? Infinity : /^[1-9][0-9]{0,4}$/.test(depthText) && Number(depthText) <= 65535 ? Number(depthText) : NaN;
  if (Number.isNaN(depth)) throw badQuery('depth must be 1..65535 or unbounded');
  return { content, depth };
}

/** module locations under the address the client used (HTTP/1.1 always sends Host) */
function requestBase(req: IncomingMessage): string {
  const local = req.socket.localAddress ?? '127.0.0.1';
  const hostHeader = req.headers.host;
  const hostOk = hostHeader !== undefined && /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(hostHeader);
  return `https://${hostOk ? hostHeader : `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort ?? 0}`}`;
}

/** the member and value of a read-only resource: the root, operations, yang-library-version, or data */
function resourceValue(p: string, base: string, content: string, depth: number): { member: string; value: unknown } {
  if (p === '/restconf') return { member: 'ietf-restconf:restconf', value: { data: {}, operations: {}, 'yang-library-version': YANG_LIBRARY_REVISION } };
  if (p === '/restconf/operations') {
    return {
      member: 'ietf-restconf:operations',
      value: {
        [`${PVE_MODULE}:integrity-request`]: [null], [`${PVE_MODULE}:integrity-requests`]: [null],
        [`${PVE_MODULE}:provide-reference-values`]: [null], [`${PVE_MODULE}:provide-reference-values-list`]: [null],
      },
    };
  }
  if (p === '/restconf/yang-library-version') return { member: 'ietf-restconf:yang-library-version', value: YANG_LIBRARY_REVISION };
  // the data: the YANG library only, all of it state (config false)
  const tops: Record<string, unknown> = content === 'config' ? {} : {
    'ietf-yang-library:yang-library': yangLibrary(base),
    'ietf-yang-library:modules-state': modulesState(base),
  };
  const rest = p.slice('/restconf/data'.length).replace(/^\//, '');
  if (rest === '') return { member: 'ietf-restconf:data', value: Object.fromEntries(Object.entries(tops).map(([k, v]) => [k, pruneDepth(v, depth)])) };
  const target = decodeURIComponent(rest);
  if (!(target in tops)) {
    const exists = target === 'ietf-yang-library:yang-library' || target === 'ietf-yang-library:modules-state';
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value',
      'error-message': exists ? 'no configuration data here (content=config)' : 'no such data resource (this PVE serves ietf-yang-library:yang-library and ietf-yang-library:modules-state)' }, 404);
  }
  return { member: target, value: pruneDepth(tops[target], depth) };
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
async function readJson(req: IncomingMessage, max = MAX_BODY): Promise<unknown> {
  const ctype = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (ctype !== YANG_JSON && ctype !== 'application/json') {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value',
      'error-message': `unsupported media type; use ${YANG_JSON}` }, 415);
  }
  const raw = await readBody(req, max);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'malformed-message', 'error-message': 'the body is not JSON' });
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > max) {
      throw new RestconfError({ 'error-type': 'transport', 'error-tag': 'too-big', 'error-message': `the body exceeds ${max} bytes` });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
