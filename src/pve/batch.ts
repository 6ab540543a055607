/**
 * The list operations of yang/henb-sw-verify-pve.yang (revision 2026-12-07), the PVE's side: integrity-requests
 * (several integrity requests, each checked and verified exactly as integrity-request alone: checkInputLeaves, then
 * the core) and provide-reference-values-list (several statements, each as provide-reference-values alone). The
 * entries are worked on at once and independently: one refused does not change another's answer. The same for both
 * transports: the RESTCONF endpoint passes the JSON members of each entry, the NETCONF endpoint the leaves it
 * converted.
 *
 * provide-reference-values-list's other input is one list statement (reference-values-list: several H(e)NBs' values
 * under one OAM signature, src/tokens reference-values): readProvideListInput tells the two apart (a choice), and
 * each entry is answered by its position (SignedListOutcome, from ProvidedReferenceValues.acceptList).
 *
 * The whole operation is refused, and nothing done, when the list itself is wrong: no entry, more than MAX_BATCH, an
 * entry that is not an object, an index missing, not a uint16, or given twice. An entry's own refusal is its result's
 * error, with the error-path into that entry (.../request[index='N']/leaf).
 */
import type { Logger } from '../log/logger.js';
import { inputMember } from './input.js';
import { PVE_MODULE, RestconfError } from './restconf.js';
import type { RestconfErrorEntry } from './restconf.js';
import type { IntegrityOutput } from './types.js';

/** max-elements of each list */
export const MAX_BATCH = 64;

/** a list operation: its name, its list's name, and the single operation each entry is answered as */
export interface ListOperation {
  name: string;
  list: string;
  single: string;
}
export const INTEGRITY_REQUESTS: ListOperation = { name: 'integrity-requests', list: 'request', single: 'integrity-request' };
export const PROVIDE_LIST: ListOperation = { name: 'provide-reference-values-list', list: 'statement', single: 'provide-reference-values' };

/** one entry of the list: its index and its leaves */
export interface BatchRequest {
  index: number;
  leaves: Record<string, unknown>;
}

/** one result: the entry's output, or the error the single operation would have answered it with */
export type BatchResult<O> = { index: number; output: O } | { index: number; error: RestconfErrorEntry };

const inputPath = (name: string): string => `/${PVE_MODULE}:${name}/input`;

function refuse(op: ListOperation, tag: string, message: string, at = ''): RestconfError {
  return new RestconfError({ 'error-type': 'protocol', 'error-tag': tag, 'error-message': message, 'error-path': `${inputPath(op.name)}/${op.list}${at}` });
}

/**
 * The operation's list (the JSON array, or the NETCONF endpoint's entries as objects with their leaves): each entry's
 * index read and checked; its other members are its leaves. Throws a RestconfError for the whole operation.
 */
export function readBatchRequests(op: ListOperation, list: unknown): BatchRequest[] {
  if (list === undefined) throw refuse(op, 'missing-element', `${op.list} is mandatory: at least one`);
  if (!Array.isArray(list)) throw refuse(op, 'invalid-value', `${op.list} must be a list`);
  if (list.length === 0) throw refuse(op, 'missing-element', `at least one ${op.list} is needed`);
  if (list.length > MAX_BATCH) throw refuse(op, 'too-big', `at most ${MAX_BATCH} of ${op.list} in one operation, got ${list.length}`);
  const seen = new Set<number>();
  return list.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw refuse(op, 'invalid-value', `a ${op.list} must be an object`);
    const { index, ...leaves } = entry as Record<string, unknown>;
    if (index === undefined) throw refuse(op, 'missing-element', `a ${op.list} has no index (its key)`);
    // RFC 7951 section 6.1: a uint16 is a JSON number; the NETCONF endpoint passes the leaf's text
    const n = typeof index === 'string' && /^(0|[1-9][0-9]{0,4})$/.test(index) ? Number(index) : index;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw refuse(op, 'invalid-value', `index must be 0..65535, got ${JSON.stringify(index)}`);
    if (seen.has(n)) throw refuse(op, 'invalid-value', `${op.list} index ${n} is given twice`, `[index='${n}']`);
    seen.add(n);
    return { index: n, leaves };
  });
}

/**
 * Every entry run at once (`run`: its check, then the core); an entry's refusal (a RestconfError) is its result's
 * error, its error-path moved into the entry. Anything else is logged and answered as an internal error of that
 * entry, as the RESTCONF endpoint answers it for the single operation.
 */
export function answerBatch<O>(op: ListOperation, entries: readonly BatchRequest[], run: (leaves: Record<string, unknown>) => Promise<O>, log: Logger): Promise<Array<BatchResult<O>>> {
  return Promise.all(entries.map(async ({ index, leaves }): Promise<BatchResult<O>> => {
    try {
      return { index, output: await run(leaves) };
    } catch (e) {
      if (e instanceof RestconfError) return { index, error: intoEntry(op, e.entry, index) };
      log.error(`${op.single} failed`, { index, err: e });
      return { index, error: { 'error-type': 'application', 'error-tag': 'operation-failed', 'error-message': 'internal error' } };
    }
  }));
}

/** the error with its error-path (in the single operation's input) moved into the entry [index=N] */
function intoEntry(op: ListOperation, entry: RestconfErrorEntry, index: number): RestconfErrorEntry {
  const path = entry['error-path'];
  const single = inputPath(op.single);
  const inEntry = `${inputPath(op.name)}/${op.list}[index='${index}']`;
  const out: RestconfErrorEntry = { 'error-type': entry['error-type'], 'error-tag': entry['error-tag'] };
  if (entry['error-app-tag'] !== undefined) out['error-app-tag'] = entry['error-app-tag'];
  out['error-path'] = path !== undefined && path.startsWith(`${single}/`) ? inEntry + path.slice(single.length) : inEntry;
  if (entry['error-message'] !== undefined) out['error-message'] = entry['error-message'];
  return out;
}

/** the list statement's leaf: provide-reference-values-list's other input (revision 2026-12-07, a choice with `statement`) */
export const SIGNED_LIST_LEAF = 'reference-values-list';
/** the list statement's longest text (the leaf's length; a list of MAX_BATCH entries of 64 values is ~1.4 MB) */
export const MAX_SIGNED_LIST = 4 * 1024 * 1024;

/**
 * provide-reference-values-list's input members (the RESTCONF JSON members, or the NETCONF endpoint's elements by name
 * with `statement` as a list): its statements, as readBatchRequests reads them, or its one list statement (its text:
 * the refusals of the statement itself are ProvidedReferenceValues.acceptList's). Not both, and nothing else.
 */
export function readProvideListInput(input: Record<string, unknown>): { statements: BatchRequest[] } | { signed: string } {
  const base = inputPath(PROVIDE_LIST.name);
  const stray = Object.keys(input).find((k) => k !== PROVIDE_LIST.list && k !== SIGNED_LIST_LEAF);
  if (stray !== undefined) throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'unknown-element', 'error-message': `unknown input member "${stray}"`, 'error-path': `${base}/${stray}` });
  const signed = input[SIGNED_LIST_LEAF];
  if (signed === undefined) return { statements: readBatchRequests(PROVIDE_LIST, input[PROVIDE_LIST.list]) };
  const at = `${base}/${SIGNED_LIST_LEAF}`;
  if (input[PROVIDE_LIST.list] !== undefined) {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': `${PROVIDE_LIST.list} and ${SIGNED_LIST_LEAF} are exclusive (one or the other)`, 'error-path': at });
  }
  if (typeof signed !== 'string' || signed.length > MAX_SIGNED_LIST) {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'invalid-value', 'error-message': `${SIGNED_LIST_LEAF} must be a JWS (compact serialisation)`, 'error-path': at });
  }
  return { signed };
}

/**
 * An entry of a list statement as the PVE took it (ProvidedReferenceValues.acceptList, by way of the service): its
 * result by its index, accepted or refused with the error-path of the list statement's leaf. A refusal of the whole
 * statement is a RestconfError thrown instead: the operation's error, every entry refused.
 */
export type SignedListOutcome = BatchResult<undefined>;

/** a list operation's body: exactly the member henb-sw-verify-pve:input (input.ts inputMember), holding exactly its list */
export function batchList(op: ListOperation, body: unknown): unknown {
  const input = inputMember(body);
  const stray = Object.keys(input).find((k) => k !== op.list);
  if (stray !== undefined) {
    throw new RestconfError({ 'error-type': 'protocol', 'error-tag': 'unknown-element', 'error-message': `unknown input member "${stray}"`, 'error-path': `${inputPath(op.name)}/${stray}` });
  }
  return input[op.list];
}

/** an integrity-requests result as RFC 7951 JSON (the output list's entry) */
export function resultJson(r: BatchResult<IntegrityOutput>): Record<string, unknown> {
  if ('error' in r) return { index: r.index, error: r.error };
  const out: Record<string, unknown> = { index: r.index, 'ear-status': r.output.earStatus, 'attestation-result': r.output.token };
  if (r.output.reason !== undefined) out.reason = r.output.reason;
  return out;
}
