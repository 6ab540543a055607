/**
 * An in-memory duplex pair for tests and embedding: what one side writes, the other reads. Respects
 * end() (half-close) and destroy() (both sides close).
 */
import { Duplex } from 'node:stream';

export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {
        /* data is pushed by the other side */
      },
      write(chunk: Buffer, _enc, cb) {
        other().push(Buffer.from(chunk));
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
      destroy(err, cb) {
        const o = other();
        if (!o.destroyed) o.destroy();
        cb(err);
      },
    });
  const a = make(() => sides[1]!);
  const b = make(() => sides[0]!);
  sides.push(a, b);
  return [a, b];
}
