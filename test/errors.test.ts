/** src/errors.ts: withoutStack (issue 15: an AbortSignal's reason on a normal path, made without a stack). */
import { describe, expect, it } from 'vitest';
import { HsvError, withoutStack } from '../src/errors.js';

class TestError extends HsvError<'ERR_TEST'> {}

describe('withoutStack', () => {
  it('makes the error as it is (class, code, message, cause) with no stack frames', () => {
    const cause = new Error('under');
    const e = withoutStack(() => new TestError('ERR_TEST', 'why', { cause }));
    expect(e).toBeInstanceOf(TestError);
    expect(e).toMatchObject({ code: 'ERR_TEST', message: 'why', name: 'TestError', cause });
    expect(e.stack).toBe('TestError: why');
    // an error made the ordinary way has its frames
    expect(new TestError('ERR_TEST', 'why').stack).toMatch(/\n\s+at /);
  });

  it('leaves Error.stackTraceLimit as it was, also when making the error throws', () => {
    const limit = Error.stackTraceLimit;
    expect(() => withoutStack((): Error => { throw new Error('boom'); })).toThrow('boom');
    expect(Error.stackTraceLimit).toBe(limit);
    withoutStack(() => new Error('x'));
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
