/**
 * How many evidence collections the PVE runs at once: at most `max`; further requests wait in arrival order,
 * and beyond `max * queueFactor` waiting a request is refused at once with resource-denied (HTTP 503), so an
 * overloaded PVE answers instead of piling up requests.
 */
import { RestconfError } from './restconf.js';

export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  readonly max: number;

  constructor(max: number, private readonly queueFactor = 16) {
    this.max = Math.max(1, max);
  }

  /** collections running now */
  get active(): number {
    return this.running;
  }

  /** requests waiting for a slot */
  get queued(): number {
    return this.waiting.length;
  }

  /** wait for a slot; the returned function gives it back (call it exactly once) */
  async acquire(): Promise<() => void> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.max * this.queueFactor) {
        throw new RestconfError({ 'error-type': 'application', 'error-tag': 'resource-denied', 'error-message': 'the PVE is overloaded; retry later' }, 503);
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
    this.running++;
    return () => {
      this.running--;
      this.waiting.shift()?.();
    };
  }

  /** let every waiting request go on (at shutdown: they then fail on their aborted signal) */
  releaseWaiting(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}
