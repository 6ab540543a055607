/**
 * The PVE's NETCONF endpoint (yang/henb-sw-verify-pve.yang: "Reached by RESTCONF ... or NETCONF"): a NETCONF
 * server over SSH (src/netconf/server) with the hsvp:integrity-request and provide-reference-values RPCs and their list
 * forms (./batch.ts), answered by the same core as the
 * RESTCONF endpoint. Its host key lives in DATA_DIR/netconf.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.js';
import { NetconfError } from '../netconf/rpc-error.js';
import type { ErrorTag, ErrorType } from '../netconf/rpc-error.js';
import { createNetconfServer, hostKeyFingerprint, registerStandardOperations } from '../netconf/server/index.js';
import type { NetconfServer, UserEntry } from '../netconf/server/index.js';
import { el, elements, leaf, textOf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { compileTexts } from '../yang/index.js';
import { loadOrCreateDeviceHostKey } from '../device/index.js';
import { PVE_MODULE, PVE_NS, RestconfError } from './restconf.js';
import { netconfClient } from './types.js';
import type { IntegrityInput, IntegrityOutput } from './types.js';
import { checkProvideLeaves } from './provided.js';
import { answerBatch, INTEGRITY_REQUESTS, PROVIDE_LIST, readBatchRequests, readProvideListInput, SIGNED_LIST_LEAF } from './batch.js';
import type { BatchResult, ListOperation, SignedListOutcome } from './batch.js';
import type { RestconfErrorEntry } from './restconf.js';

export interface PveNetconfOptions {
  host: string;
  port: number;
  users: UserEntry[];
  dataDir: string;
  log: Logger;
  check: (leaves: Record<string, unknown>) => IntegrityInput;
  /** the core; `client` is who asked (types.ts netconfClient of the session's user) */
  verify: (input: IntegrityInput, client: string) => Promise<IntegrityOutput>;
  /** provide-reference-values: accept the OAM's signed statement (RestconfError when refused) */
  provide?: (jws: string) => Promise<void>;
  /** provide-reference-values-list's list statement: each entry's outcome (RestconfError when the whole statement is refused) */
  provideList?: (jws: string) => Promise<SignedListOutcome[]>;
}

function pveYangText(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const f = join(dir, 'yang', `${PVE_MODULE}.yang`);
    if (existsSync(f)) return readFileSync(f, 'utf8');
    dir = dirname(dir);
  }
  throw new RestconfError({ 'error-type': 'application', 'error-tag': 'operation-failed', 'error-message': `cannot find yang/${PVE_MODULE}.yang` });
}

/** RESTCONF error (JSON path) -> NETCONF rpc-error (prefixed path). */
function toNetconf(e: RestconfError, rpc = 'integrity-request'): NetconfError {
  const x = e.entry;
  const path = x['error-path'];
  // a list operation: a refusal of its list, at the list or list[index='N']
  const listEntry = path !== undefined && path.startsWith(`/${PVE_MODULE}:${rpc}/input/`) ? /\/(request|statement)(?:\[index='(\d+)'\])?$/.exec(path) : null;
  if (listEntry !== null) {
    return new NetconfError({
      type: x['error-type'] as ErrorType, tag: x['error-tag'] as ErrorTag,
      ...(x['error-app-tag'] !== undefined ? { appTag: x['error-app-tag'] } : {}),
      ...(x['error-message'] !== undefined ? { message: x['error-message'] } : {}),
      path: `/hsvp:${rpc}/hsvp:${listEntry[1]}${listEntry[2] !== undefined ? `[hsvp:index='${listEntry[2]}']` : ''}`, pathNs: { hsvp: PVE_NS },
    });
  }
  const leafName = path?.split('/').pop();
  return new NetconfError({
    type: x['error-type'] as ErrorType,
    tag: x['error-tag'] as ErrorTag,
    ...(x['error-app-tag'] !== undefined ? { appTag: x['error-app-tag'] } : {}),
    ...(x['error-message'] !== undefined ? { message: x['error-message'] } : {}),
    ...(leafName !== undefined && x['error-path'] !== undefined
      ? { path: `/hsvp:${rpc}/hsvp:${leafName}`, pathNs: { hsvp: PVE_NS } } : {}),
  });
}

export async function startPveNetconf(o: PveNetconfOptions): Promise<{ server: NetconfServer; host: string; port: number; hostKeySha256: string }> {
  const dir = join(o.dataDir, 'netconf');
  const hostKey = await loadOrCreateDeviceHostKey(dir);
  const loaded = compileTexts([{ file: `${PVE_MODULE}.yang`, text: pveYangText() }]);
  const module = loaded.modules.find((m) => m.name === PVE_MODULE)!;
  const log = o.log.child({ transport: 'netconf' });
  const server = createNetconfServer({
    hostKeys: [hostKey],
    auth: { users: o.users },
    validator: loaded.validator,
    log,
    dataDir: dir,
    // the OAM opens one short session per integrity request, as one user, as many at once as it has jobs:
    // the per-user and unauthenticated caps (meant for NMS logins) follow the session limit here
    limits: { maxSessionsPerUser: 100, maxUnauthenticated: 100 },
    operations: [(reg) => registerStandardOperations(reg, { log, eventLog: false })],
  });
  server.registry.addModule(module);
  addIntegrityRequest(server, o);
  addIntegrityRequests(server, o);
  const { provide, provideList } = o;
  if (provide !== undefined) {
    addProvideReferenceValues(server, provide);
    addProvideList(server, provide, provideList, log);
  }
  try {
    const addr = await server.listen(o.host, o.port);
    return { server, host: addr.host, port: addr.port, hostKeySha256: hostKeyFingerprint(hostKey) };
  } catch (e) {
    await server.close().catch(() => undefined);
    throw e;
  }
}

/** an integrity request's leaves (the completion and the evidence as JSON), as checkInputLeaves reads them */
function requestLeaves(op: XmlElement): Record<string, unknown> {
  const leaves: Record<string, unknown> = {};
  for (const c of elements(op)) {
    leaves[c.ns === PVE_NS ? c.name : `{${c.ns}}${c.name}`] = c.ns === PVE_NS && c.name === 'completion' ? completionJson(c)
      : c.ns === PVE_NS && c.name === 'evidence' ? evidenceJson(c) : textOf(c).trim();
  }
  return leaves;
}

function outputLeaves(r: IntegrityOutput): XmlElement[] {
  return [
    leaf(PVE_NS, 'ear-status', r.earStatus),
    leaf(PVE_NS, 'attestation-result', r.token),
    ...(r.reason !== undefined ? [leaf(PVE_NS, 'reason', r.reason)] : []),
  ];
}

/** hsvp:integrity-request: its leaves (the completion as JSON) checked and verified by the core */
function addIntegrityRequest(server: NetconfServer, o: PveNetconfOptions): void {
  server.registry.addRpc(PVE_NS, 'integrity-request', async (op, ctx) => {
    try {
      return outputLeaves(await o.verify(o.check(requestLeaves(op)), netconfClient(ctx.username)));
    } catch (e) {
      if (e instanceof RestconfError) throw toNetconf(e);
      throw e;
    }
  });
}

/**
 * hsvp:integrity-requests: each request as integrity-request would answer it (./batch.ts); a request's refusal is its
 * result's error container, a refusal of the list itself an rpc-error
 */
function addIntegrityRequests(server: NetconfServer, o: PveNetconfOptions): void {
  server.registry.addRpc(PVE_NS, INTEGRITY_REQUESTS.name, async (op, ctx) => {
    const results = await answerList(INTEGRITY_REQUESTS, op, requestLeaves, (leaves) => o.verify(o.check(leaves), netconfClient(ctx.username)), o.log);
    return results.map((r) => el(PVE_NS, 'result', leaf(PVE_NS, 'index', String(r.index)), ...('error' in r ? [errorXml(r.error)] : outputLeaves(r.output))));
  });
}

/**
 * hsvp:provide-reference-values-list: each statement as provide-reference-values would take it, or the entries of its
 * one list statement (hsvp:reference-values-list) each as a statement of its own
 */
function addProvideList(server: NetconfServer, provide: (jws: string) => Promise<void>, provideList: PveNetconfOptions['provideList'], log: Logger): void {
  server.registry.addRpc(PVE_NS, PROVIDE_LIST.name, async (op) => {
    const signed = provideList !== undefined && elements(op).some((c) => c.ns === PVE_NS && c.name === SIGNED_LIST_LEAF);
    const results: Array<BatchResult<unknown>> = signed
      ? await answerSignedXml(op, provideList)
      : await answerList(PROVIDE_LIST, op, leafTexts, (leaves) => provide(checkProvideLeaves(leaves)), log);
    return results.map((r) => el(PVE_NS, 'result', leaf(PVE_NS, 'index', String(r.index)), 'error' in r ? errorXml(r.error) : el(PVE_NS, 'accepted')));
  });
}

/** the list statement of provide-reference-values-list (the input checked as the RESTCONF endpoint checks it); its refusal as a whole an rpc-error */
async function answerSignedXml(op: XmlElement, provideList: (jws: string) => Promise<SignedListOutcome[]>): Promise<SignedListOutcome[]> {
  try {
    const input: Record<string, unknown> = {};
    for (const c of elements(op)) {
      const name = c.ns === PVE_NS ? c.name : `{${c.ns}}${c.name}`;
      if (name === PROVIDE_LIST.list) input[name] = [...(input[name] as unknown[] | undefined ?? []), leafTexts(c)];
      else input[name] = textOf(c).trim();
    }
    const read = readProvideListInput(input);
    if (!('signed' in read)) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': `${SIGNED_LIST_LEAF} is missing` });
    return await provideList(read.signed);
  } catch (e) {
    if (e instanceof RestconfError) throw toNetconf(e, PROVIDE_LIST.name);
    throw e;
  }
}

/** a list operation's entries read (./batch.ts) and run; its list refused as a whole is an rpc-error */
async function answerList<O>(
  list: ListOperation, op: XmlElement, leavesOf: (e: XmlElement) => Record<string, unknown>, run: (leaves: Record<string, unknown>) => Promise<O>, log: Logger,
): Promise<Array<BatchResult<O>>> {
  try {
    const stray = elements(op).find((c) => !(c.ns === PVE_NS && c.name === list.list));
    if (stray !== undefined) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'unknown-element', 'error-message': `unknown input element "${stray.name}"` });
    const entries = readBatchRequests(list, elements(op).map(leavesOf));
    return await answerBatch(list, entries, run, log);
  } catch (e) {
    if (e instanceof RestconfError) throw toNetconf(e, list.name);
    throw e;
  }
}

/** an entry's error as the output's error container */
function errorXml(e: RestconfErrorEntry): XmlElement {
  return el(PVE_NS, 'error', ...Object.entries(e).filter(([k]) => k !== 'error-info').map(([k, v]) => leaf(PVE_NS, k, String(v))));
}

/** an element's children as leaf texts by name (another namespace's as {ns}name), as checkProvideLeaves reads them */
function leafTexts(e: XmlElement): Record<string, unknown> {
  const leaves: Record<string, unknown> = {};
  for (const c of elements(e)) leaves[c.ns === PVE_NS ? c.name : `{${c.ns}}${c.name}`] = textOf(c).trim();
  return leaves;
}

/** hsvp:provide-reference-values: the OAM's signed statement, accepted by `provide` */
function addProvideReferenceValues(server: NetconfServer, provide: (jws: string) => Promise<void>): void {
  server.registry.addRpc(PVE_NS, 'provide-reference-values', async (op) => {
    try {
      await provide(checkProvideLeaves(leafTexts(op)));
      return [];
    } catch (e) {
      if (e instanceof RestconfError) throw toNetconf(e, 'provide-reference-values');
      throw e;
    }
  });
}

/** The completion container as RFC 7951 JSON (what checkCompletion reads): leaves as strings, log entries as a list. */
function completionJson(c: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of elements(c)) {
    if (e.ns !== PVE_NS) {
      out[`{${e.ns}}${e.name}`] = textOf(e);
    } else if (e.name === 'measurement-log') {
      out['measurement-log'] = measurementLogJson(e);
    } else if (e.name === 'evidence') {
      out.evidence = Object.fromEntries(elements(e).map((l) => [l.ns === PVE_NS ? l.name : `{${l.ns}}${l.name}`, textOf(l).replace(/\s+/g, '')]));
    } else {
      out[e.name] = e.name === 'software-version' ? textOf(e) : textOf(e).trim();
    }
  }
  return out;
}

/** a measurement-log container as RFC 7951 JSON: its entries' leaves as strings */
function measurementLogJson(e: XmlElement): Record<string, unknown> {
  return {
    entry: elements(e).filter((x) => x.ns === PVE_NS && x.name === 'entry').map((x) => Object.fromEntries(elements(x).map((l) => [l.name, textOf(l).trim()]))),
  };
}

/** The evidence container (phase pre-update, relayed) as RFC 7951 JSON (what checkRelayedEvidence reads). */
function evidenceJson(c: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const binaryText = (x: XmlElement): string => textOf(x).replace(/\s+/g, '');
  for (const e of elements(c)) {
    if (e.ns !== PVE_NS) out[`{${e.ns}}${e.name}`] = textOf(e);
    else if (e.name === 'measurement-log') out['measurement-log'] = measurementLogJson(e);
    else if (e.name === 'tpm2-quote') out['tpm2-quote'] = Object.fromEntries(elements(e).map((l) => [l.ns === PVE_NS ? l.name : `{${l.ns}}${l.name}`, binaryText(l)]));
    else if (e.name === 'signature') out.signature = binaryText(e);
    else out[e.name] = e.name === 'software-version' ? textOf(e) : textOf(e).trim();
  }
  return out;
}
