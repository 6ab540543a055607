/**
 * RequestBatcher (src/pve/batcher.ts): requests made while others are on their way go together, each settles on its
 * own, a caller's abort is its own, a failed operation fails each of its requests with its error, and a PVE without
 * the list operation is asked one request at a time from then on, the refused requests sent again alone.
 */
import { describe, expect, it } from 'vitest';
import { RequestBatcher } from '../../src/pve/batcher.js';
import type { BatchSender } from '../../src/pve/batcher.js';

interface Call {
  kind: 'one' | 'many';
  inputs: string[];
  signal: AbortSignal;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** a sender whose operations the test answers by hand */
function manual(unsupported: (e: unknown) => boolean = () => false): { sender: BatchSender<string>; calls: Call[] } {
  const calls: Call[] = [];
  const sender: BatchSender<string> = {
    one: (input, signal) => new Promise((resolve, reject) => calls.push({ kind: 'one', inputs: [input], signal, resolve: resolve as (v: unknown) => void, reject })),
    many: (inputs, signal) => new Promise((resolve, reject) => calls.push({ kind: 'many', inputs: [...inputs], signal, resolve: resolve as (v: unknown) => void, reject })),
    unsupported,
    aborted: (signal) => new Error(`aborted: ${String(signal.reason)}`),
  };
  return { sender, calls };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const live = (): AbortSignal => new AbortController().signal;

/** 'a' sent alone (maxInFlight 1) and answered once `queue` has submitted more: those leave next; returns what queue made */
async function afterFirst<Q>(b: RequestBatcher<string>, calls: Call[], queue: () => Q): Promise<Q> {
  const first = b.submit('a', live());
  const queued = queue();
  calls[0]!.resolve('A');
  await first;
  await tick();
  return queued;
}

describe('RequestBatcher', () => {
  it('a request while nothing is on its way goes at once and alone (the single operation)', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender);
    const p = b.submit('a', live());
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ kind: 'one', inputs: ['a'] });
    calls[0]!.resolve('A');
    await expect(p).resolves.toBe('A');
  });

  it('requests made while maxInFlight operations are on their way leave together when one comes back; each gets its own outcome', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender, { maxInFlight: 1 });
    const first = b.submit('a', live());
    const rest = ['b', 'c', 'd'].map((x) => b.submit(x, live()));
    expect(calls).toHaveLength(1);
    calls[0]!.resolve('A');
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatchObject({ kind: 'many', inputs: ['b', 'c', 'd'] });
    const refused = new Error('refused c');
    calls[1]!.resolve([{ ok: true, value: 'B' }, { ok: false, error: refused }, { ok: true, value: 'D' }]);
    await expect(first).resolves.toBe('A');
    await expect(rest[0]).resolves.toBe('B');
    await expect(rest[1]).rejects.toBe(refused);
    await expect(rest[2]).resolves.toBe('D');
  });

  it('at most maxRequests in one operation, and about maxBytes of input (a larger request alone)', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender, { maxInFlight: 1, maxRequests: 2, maxBytes: 10 });
    const ps = [b.submit('x', live()), b.submit('aaaa', live()), b.submit('bbbb', live()), b.submit('cccc', live()), b.submit('d'.repeat(20), live()), b.submit('e', live())];
    for (const p of ps) p.catch(() => undefined);
    const answer = async (i: number): Promise<void> => {
      const c = calls[i]!;
      c.resolve(c.kind === 'one' ? 'ok' : c.inputs.map(() => ({ ok: true, value: 'ok' })));
      await tick();
    };
    await answer(0);
    expect(calls[1]!.inputs).toEqual(['aaaa', 'bbbb']); // maxRequests
    await answer(1);
    expect(calls[2]!.inputs).toEqual(['cccc']); // cccc + 20 characters is over maxBytes
    expect(calls[2]!.kind).toBe('one');
    await answer(2);
    expect(calls[3]!.inputs).toEqual(['d'.repeat(20)]); // alone, larger than maxBytes
    await answer(3);
    expect(calls[4]!.inputs).toEqual(['e']);
    await answer(4);
    await Promise.all(ps);
  });

  it('a caller that gives up while waiting is answered at once and its request is not sent', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender, { maxInFlight: 1 });
    const first = b.submit('a', live());
    const ctl = new AbortController();
    const gone = b.submit('b', ctl.signal);
    const kept = b.submit('c', live());
    ctl.abort('job ended');
    await expect(gone).rejects.toThrow('aborted: job ended');
    calls[0]!.resolve('A');
    await first;
    await tick();
    expect(calls[1]).toMatchObject({ kind: 'one', inputs: ['c'] });
    calls[1]!.resolve('C');
    await expect(kept).resolves.toBe('C');
  });

  it('a caller that gives up while its operation is on its way is answered at once; the others keep theirs; the operation is given up when all gave up', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender, { maxInFlight: 1 });
    const c1 = new AbortController();
    const c2 = new AbortController();
    const [p1, p2] = await afterFirst(b, calls, () => [b.submit('b', c1.signal), b.submit('c', c2.signal)]);
    const op = calls[1]!;
    expect(op.kind).toBe('many');
    c1.abort('one');
    await expect(p1).rejects.toThrow('aborted: one');
    expect(op.signal.aborted).toBe(false);
    c2.abort('two');
    await expect(p2).rejects.toThrow('aborted: two');
    expect(op.signal.aborted).toBe(true);
  });

  it('an operation that fails as a whole fails each of its requests with its error (each caller\'s retry decides)', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender, { maxInFlight: 1 });
    const ps = await afterFirst(b, calls, () => [b.submit('b', live()), b.submit('c', live())]);
    const lost = Object.assign(new Error('connection reset'), { code: 'ERR_PVE_UNREACHABLE', unanswered: true });
    calls[1]!.reject(lost);
    for (const p of ps) await expect(p).rejects.toBe(lost);
  });

  it('a PVE without the list operation: told once, the refused requests sent again alone, and every request alone from then on', async () => {
    const told: unknown[] = [];
    const unknownOp = Object.assign(new Error('404'), { httpStatus: 404 });
    const { sender, calls } = manual((e) => e === unknownOp);
    const b = new RequestBatcher(sender, { maxInFlight: 1, onUnsupported: (e) => told.push(e) });
    const ps = await afterFirst(b, calls, () => [b.submit('b', live()), b.submit('c', live())]);
    calls[1]!.reject(unknownOp);
    await tick();
    expect(told).toEqual([unknownOp]);
    expect(calls[2]).toMatchObject({ kind: 'one', inputs: ['b'] });
    const late = b.submit('d', live());
    calls[2]!.resolve('B');
    await tick();
    expect(calls[3]).toMatchObject({ kind: 'one', inputs: ['c'] });
    calls[3]!.resolve('C');
    await tick();
    expect(calls[4]).toMatchObject({ kind: 'one', inputs: ['d'] });
    calls[4]!.resolve('D');
    expect(await Promise.all([...ps, late])).toEqual(['B', 'C', 'D']);
    expect(told).toHaveLength(1);
  });

  it('an answer without the outcome of a request fails that request only', async () => {
    const { sender, calls } = manual();
    const b = new RequestBatcher(sender, { maxInFlight: 1 });
    const ps = await afterFirst(b, calls, () => [b.submit('b', live()), b.submit('c', live())]);
    calls[1]!.resolve([{ ok: true, value: 'B' }]);
    await expect(ps[0]).resolves.toBe('B');
    await expect(ps[1]).rejects.toThrow(/no outcome/);
  });

  it('refuses a bound that is not a positive integer', () => {
    const { sender } = manual();
    expect(() => new RequestBatcher(sender, { maxRequests: 0 })).toThrow(RangeError);
    expect(() => new RequestBatcher(sender, { maxInFlight: 1.5 })).toThrow(RangeError);
  });
});
