/** One rpc on a device session, its failures coded for the DeviceDriver port. */
import { NetconfError } from '../netconf/rpc-error.js';
import { elements } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { DeviceSession } from './connect.js';
import { DeviceDriverError, abortedError } from './driver-error.js';

/**
 * Send `op` and resolve with the reply's elements. Rejects ERR_DEVICE_ABORTED (the signal), ERR_DEVICE_REFUSED (an
 * rpc-error: errorTag/appTag set), ERR_DEVICE_RPC_TIMEOUT, or ERR_DEVICE_SESSION_LOST (the session ended before the
 * answer: the outcome is unknown).
 */
export async function deviceRpc(henbId: string, s: DeviceSession, op: XmlElement, signal: AbortSignal, timeoutMs: number): Promise<XmlElement[]> {
  try {
    return elements(await s.rpc(op, { signal, timeoutMs }));
  } catch (e) {
    if (signal.aborted) throw abortedError(signal);
    if (e instanceof NetconfError) throw refused(henbId, op.name, e);
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_SESSION_RPC_TIMEOUT') {
      throw new DeviceDriverError('ERR_DEVICE_RPC_TIMEOUT', `${henbId} did not answer ${op.name} within ${timeoutMs} ms`, { cause: e });
    }
    throw new DeviceDriverError('ERR_DEVICE_SESSION_LOST', `the session to ${henbId} ended before the answer to ${op.name}`, { cause: e });
  }
}

function refused(henbId: string, opName: string, e: NetconfError): DeviceDriverError {
  const first = e.errors[0];
  const err = new DeviceDriverError('ERR_DEVICE_REFUSED',
    `${henbId} refused ${opName}: ${first?.tag ?? 'rpc-error'}${first?.appTag ? ` (${first.appTag})` : ''}${first?.message ? `: ${first.message}` : ''}`,
    { cause: e });
  if (first) {
    err.errorTag = first.tag;
    if (first.appTag !== undefined) err.appTag = first.appTag;
  }
  return err;
}
