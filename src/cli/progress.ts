/**
 * A small progress bar. It draws only on a terminal (one line, redrawn with \r); elsewhere it is
 * silent, so logs and pipes stay clean. `done()` clears the line.
 */
import type { Writable } from './io.js';

export interface ProgressOptions {
  total: number;
  label?: string;
  /** draw at all (the caller decides: stdout is a TTY and not --json) */
  enabled: boolean;
  width?: number;
  /** minimum ms between redraws (the last update always draws) */
  throttleMs?: number;
  now?: () => number;
}

export class ProgressBar {
  private current = 0;
  private lastDraw = -Infinity;
  private drawn = false;
  private note = '';
  private readonly now: () => number;

  constructor(private readonly out: Writable, private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
  }

  get value(): number {
    return this.current;
  }

  /** advance by n (default 1), with an optional short note (e.g. the device just finished) */
  tick(n = 1, note?: string): void {
    this.update(this.current + n, note);
  }

  update(value: number, note?: string): void {
    this.current = Math.min(Math.max(0, value), this.opts.total);
    if (note !== undefined) this.note = note;
    if (!this.opts.enabled) return;
    const t = this.now();
    if (this.current < this.opts.total && t - this.lastDraw < (this.opts.throttleMs ?? 50)) return;
    this.lastDraw = t;
    this.out.write('\r' + this.render() + '\u001b[K');
    this.drawn = true;
  }

  /** the bar as text: `label [#####.....] 5/10  50%  note` */
  render(): string {
    const total = Math.max(1, this.opts.total);
    const width = this.opts.width ?? 30;
    const filled = Math.round((this.current / total) * width);
    const pct = Math.floor((this.current / total) * 100);
    const label = this.opts.label ? `${this.opts.label} ` : '';
    const note = this.note ? `  ${this.note}` : '';
    return `${label}[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.current}/${this.opts.total} ${String(pct).padStart(3)}%${note}`;
  }

  /** clear the bar's line (if it was drawn) */
  done(): void {
    if (this.drawn) this.out.write('\r\u001b[K');
    this.drawn = false;
  }
}
