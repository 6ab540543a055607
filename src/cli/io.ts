/** The minimal output surface the CLI writes to (process.stdout, or a buffer in tests). */
export interface Writable {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** A Writable that keeps what was written (tests, --json capture). */
export class BufferWritable implements Writable {
  readonly chunks: string[] = [];
  constructor(readonly isTTY = false, readonly columns = 80) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  text(): string {
    return this.chunks.join('');
  }
}
