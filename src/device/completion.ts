/**
 * Completions as the flow's port has them (toDeviceCompletion) and the listeners they are handed to
 * (CompletionListeners). Which completion of a device is handed on at all (once per job; not a rollback's) is the
 * device's link's decision (./link.ts).
 */
import type { Logger } from '../log/logger.js';
import type { DeviceCompletion } from '../oam/index.js';
import type { CompletionEvent } from './wire.js';

/**
 * A parsed completion notification as the flow's port has it: the device's status mapped to completed/failed, the
 * signed leaves (status, self-check, software-version, TIM, log) and the evidence kept as the device sent them.
 */
export function toDeviceCompletion(henbId: string, c: CompletionEvent): DeviceCompletion {
  const out: DeviceCompletion = { henbId, jobId: c.jobId, status: 'completed', deviceStatus: c.status };
  if (c.tim !== undefined) out.tim = c.tim;
  if (c.log !== undefined) out.measurementLog = c.log;
  if (c.selfCheck !== undefined) out.selfCheck = c.selfCheck;
  if (c.softwareVersion !== undefined) out.softwareVersion = c.softwareVersion;
  if (c.status === 'completed' || c.status === 'self-check-failed') {
    if (c.reason !== undefined) out.reason = c.reason;
  } else {
    out.status = 'failed';
    out.reason = c.reason !== undefined ? `${c.status}: ${c.reason}` : c.status;
  }
  if (c.evidence !== undefined) {
    out.evidence = {
      format: c.evidence.format, nonce: c.evidence.nonce, signatureAlgorithm: c.evidence.signatureAlgorithm, signature: c.evidence.signature,
      ...(c.evidence.keyId !== undefined ? { keyId: c.evidence.keyId } : {}),
      ...(c.evidence.quote !== undefined ? { quote: c.evidence.quote } : {}),
      ...(c.evidence.eventLog !== undefined ? { eventLog: c.evidence.eventLog } : {}),
    };
  }
  return out;
}

/** The flow's completion listeners; a listener that throws is logged and does not stop the others. */
export class CompletionListeners {
  private readonly listeners = new Set<(c: DeviceCompletion) => void>();

  constructor(private readonly log: Logger) {}

  add(listener: (c: DeviceCompletion) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(c: DeviceCompletion): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(c);
      } catch (e) {
        this.log.error('completion listener failed', { err: e });
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
