import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadedYang } from '../../src/yang/index.js';
import { loadYang, parseJsonText, YangJsonError } from '../../src/yang/index.js';

const HSVP = 'henb-sw-verify-pve';
const NONCE = 'AAAAAAAAAAAAAAAAAAAAAA==';
let y: LoadedYang;
beforeAll(async () => { y = await loadYang(resolve(import.meta.dirname, '../../yang')); });

describe('parseJsonText', () => {
  it('keeps number lexemes and duplicate members', () => {
    expect(parseJsonText('{"a": 3.0, "a": [1, -2e3, true, null, "x\\u0041"]}')).toEqual({
      members: [['a', { num: '3.0' }], ['a', [{ num: '1' }, { num: '-2e3' }, true, null, 'xA']]],
    });
  });
  it('rejects malformed JSON with a coded error', () => {
    for (const t of ['{', '{"a" 1}', '[1,]', '"\u0001"', '01', '{"a":1} x', '"\\q"']) {
      expect(() => parseJsonText(t), t).toThrow(YangJsonError);
    }
    expect(() => parseJsonText('['.repeat(100) + ']'.repeat(100))).toThrow(/too deep/);
  });
});

describe('validateJson (RFC 7951)', () => {
  it('accepts a valid operation and gives the element for the handler', () => {
    const r = y.validator.validateJson('rpc', `{"${HSVP}:integrity-request": {"henb-id": "h1", "nonce-value": "${NONCE}"}}`);
    expect(r.errors).toEqual([]);
    expect(r.element).toMatchObject({ ns: 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve', name: 'integrity-request' });
  });
  it('enforces JSON encodings: numbers for uint8, arrays for leaf-lists, true/false, [null]', () => {
    const prog = (step: string) => y.validator.validateJson('notif', `{"henb-sw-verify:software-update-progress": {"job-id": "j", "henb-id": "h", "step": ${step}}}`).errors;
    expect(prog('3')).toEqual([]);
    expect(prog('"3"')[0]!.tag).toBe('invalid-value');
    expect(prog('3.0')[0]!.tag).toBe('invalid-value');
    const upd = (body: string) => y.validator.validateJson('rpc', `{"henb-sw-verify:software-update": ${body}}`).errors;
    expect(upd('{"henb-id": ["h"], "software": {"uri": "https://x/f"}, "self-check": true}')).toEqual([]);
    expect(upd('{"henb-id": "h", "software": {"uri": "https://x/f"}}')[0]!.tag).toBe('invalid-value');
    expect(upd('{"henb-id": ["h"], "software": {"uri": "https://x/f"}, "self-check": "true"}')[0]!.tag).toBe('invalid-value');
  });
  it('qualifies member names by module; an unknown module or member is reported', () => {
    const upd = (body: string) => y.validator.validateJson('rpc', `{"henb-sw-verify:software-update": ${body}}`).errors;
    expect(upd('{"henb-id": ["h"], "henb-sw-verify:software": {"uri": "u"}}')).toEqual([]);
    expect(upd('{"henb-id": ["h"], "software": {"uri": "u"}, "nope:x": 1}')[0]!.tag).toBe('unknown-namespace');
    expect(upd('{"henb-id": ["h"], "software": {"uri": "u"}, "x": 1}')[0]!.tag).toBe('unknown-element');
    expect(y.validator.validateJson('rpc', '{"nope:op": {}}').errors[0]!.tag).toBe('unknown-namespace');
    expect(y.validator.validateJson('rpc', '[]').errors[0]!.tag).toBe('malformed-message');
  });
  it('validates RESTCONF bodies and writes error-paths with module names', () => {
    const v = y.validator;
    expect(v.validateRestconf(HSVP, 'integrity-request', 'input', { [`${HSVP}:input`]: { 'henb-id': 'h1', 'nonce-value': NONCE } }).errors).toEqual([]);
    const bad = v.validateRestconf(HSVP, 'integrity-request', 'input', { [`${HSVP}:input`]: { 'henb-id': '-h', 'nonce-value': 'AAAA' } }).errors;
    expect(bad.map((e) => v.jsonPath(e))).toEqual([`/${HSVP}:integrity-request/henb-id`, `/${HSVP}:integrity-request/nonce-value`]);
    expect(v.validateRestconf(HSVP, 'integrity-request', 'input', undefined).errors.map((e) => e.tag)).toEqual(['missing-element', 'missing-element']);
    expect(v.validateRestconf(HSVP, 'integrity-request', 'input', { input: {} }).errors[0]!.tag).toBe('malformed-message');
    const out = v.validateRestconf(HSVP, 'integrity-request', 'output', `{"${HSVP}:output": {"ear-status": "affirming", "attestation-result": "a.b.c"}}`);
    expect(out.errors).toEqual([]);
  });
});
