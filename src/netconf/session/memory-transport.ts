/**
 * An in-memory duplex pair for tests and embedding: what one side writes, the other reads. Respects
 * end() (half-close), destroy() (both sides close) and backpressure: a write is acknowledged only once
 * the reading side has room (its readable buffer is below highWaterMark), so a peer that stops reading
 * makes the writer's write() return false, as a socket would.
 */
import { Duplex } from 'node:stream';

export function duplexPair(options: { highWaterMark?: number } = {}): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const waiting: Array<(() => void) | undefined> = [undefined, undefined];
  const make = (me: 0 | 1): Duplex => {
    const other = (): Duplex => sides[1 - me]!;
    return new Duplex({
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
      read() {
        // room again: acknowledge the other side's pending write
        const cb = waiting[1 - me];
        waiting[1 - me] = undefined;
        cb?.();
      },
      write(chunk: Buffer, _enc, cb) {
        const o = other();
        if (o.destroyed) return cb();
        if (o.push(Buffer.from(chunk))) cb();
        else waiting[me] = cb;
      },
      final(cb) {
        other().push(null);
        cb();
      },
      destroy(err, cb) {
        const o = other();
        const pending = waiting[me];
        waiting[me] = undefined;
        pending?.();
        if (!o.destroyed) o.destroy();
        cb(err);
      },
    });
  };
  sides.push(make(0), make(1));
  return [sides[0]!, sides[1]!];
}
