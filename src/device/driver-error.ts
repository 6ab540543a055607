/** The device driver's coded error (the DeviceDriver port's codes, src/oam/ports.ts) and its common cases. */
import { HsvError } from '../errors.js';
import type { DeviceDriverErrorCode } from '../oam/index.js';

/** codes: the DeviceDriver port's (src/oam/ports.ts); errorTag/appTag for ERR_DEVICE_REFUSED by an rpc-error */
export class DeviceDriverError extends HsvError<DeviceDriverErrorCode> {
  errorTag?: string;
  appTag?: string;
}

/** the caller's signal was aborted */
export function abortedError(signal: AbortSignal): DeviceDriverError {
  return new DeviceDriverError('ERR_DEVICE_ABORTED', 'the device operation was aborted', { cause: signal.reason });
}

export function closedError(): DeviceDriverError {
  return new DeviceDriverError('ERR_DEVICE_CLOSED', 'the device driver is closed');
}

/**
 * Transient failures of connection establishment (TCP refused/reset, SSH handshake cut, no session in time, the
 * hello or subscription failed): retried. Auth, host key, config and rpc-error answers are final.
 */
const RETRIABLE: ReadonlySet<string> = new Set(['ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_TIMEOUT', 'ERR_DEVICE_NETCONF']);

export function retriable(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && RETRIABLE.has(code);
}
