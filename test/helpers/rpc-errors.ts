/** Comparing rpc-errors (RFC 6241 section 4.3) in tests of the operations. */
import { NetconfError } from '../../src/netconf/rpc-error.js';
import type { RpcErrorInfo } from '../../src/netconf/rpc-error.js';
import { serializeXml } from '../../src/netconf/xml/index.js';

/**
 * Each rpc-error as { type, tag, info }, info the serialized error-info children (undefined when there
 * is none), so that one toEqual states how many errors there are and what each says.
 */
export function typeTagInfo(errs: RpcErrorInfo[]): Array<{ type: string; tag: string; info: string[] | undefined }> {
  return errs.map((e) => ({ type: e.type, tag: e.tag, info: e.info?.map((i) => serializeXml(i)) }));
}

/** The NetconfError that `p` rejects with; fails when it resolves or rejects with anything else. */
export async function rpcError(p: Promise<unknown>): Promise<NetconfError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NetconfError) return e;
    throw e;
  }
  throw new Error('expected an rpc-error');
}
