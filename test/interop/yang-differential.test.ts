/**
 * Differential test against the oracle (issue 3): a corpus of instance documents generated from the
 * schema (valid documents, then mutations) for every RPC input, RPC output and notification of our
 * three modules. yanglint (libyang) and our validator must agree on valid/invalid for every one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../src/netconf/xml/index.js';
import type { LoadedYang } from '../../src/yang/index.js';
import { loadYang } from '../../src/yang/index.js';
import type { CorpusDoc } from '../yang/corpus.js';
import { generateConfigCorpus, generateCorpus, prefixesOf, serialize, toJson } from '../yang/corpus.js';
import { compileTexts } from '../../src/yang/index.js';
import { readdir, readFile } from 'node:fs/promises';

const YANG_DIR = resolve(import.meta.dirname, '../../yang');
const OURS = ['henb-sw-verify', 'henb-sw-verify-device', 'henb-sw-verify-pve'];

function yanglint(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) => {
    execFile('yanglint', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') { rej(err); return; }
      res({ code: err ? (err.code as number) : 0, out: stdout + stderr });
    });
  });
}

async function pool<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; out[i] = await f(items[i]!); }
  }));
  return out;
}

/**
 * One yanglint process per document (about 2,250 since tpm20-attestation in the device and OAM modules, 2026-12-03): real
 * subprocess I/O, which takes longer than the interop default on a busy machine.
 */
const CORPUS_TIMEOUT_MS = 420_000;

describe('differential: our validator vs yanglint', () => {
  let dir: string;
  let yang: LoadedYang;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-yang-diff-'));
    yang = await loadYang(YANG_DIR);
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('agrees on every generated document', async () => {
    const corpus = generateCorpus(yang.validator.modules, OURS);
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    const schemaArgs = ['-p', YANG_DIR, '-p', join(YANG_DIR, 'ietf'), ...OURS.map((m) => join(YANG_DIR, `${m}.yang`))];
    const results = await pool(corpus, 4, async (doc: CorpusDoc) => {
      const xml = serialize(doc.root);
      const file = join(dir, `${corpus.indexOf(doc)}.xml`);
      await writeFile(file, xml);
      const lint = await yanglint([...schemaArgs, '-t', doc.kind, file]);
      const el = parseXml(xml);
      const ours = doc.kind === 'rpc' ? yang.validator.validateRpcInput(el)
        : doc.kind === 'reply' ? yang.validator.validateRpcOutput(el.ns, el.name, el.children.filter((c) => typeof c !== 'string'))
          : yang.validator.validateNotification(el);
      const lintValid = lint.code === 0 && !/err\s*:/.test(lint.out);
      return { doc, xml, lintValid, lintOut: lint.out.trim(), oursValid: ours.length === 0, ours };
    });
    // Known oracle gap (docs/yang-validator.md): libyang 2.1.30 does not report a duplicate instance of
    // a leaf or container directly under an RPC reply's output (-t reply and -t nc-reply alike), while
    // it does in RPC input, notifications and nested output nodes. RFC 7950 sections 7.6 and 7.5 allow
    // one instance; we reject it. Only that exact class may differ, and only in that direction.
    const isKnownGap = (r: (typeof results)[number]): boolean => r.doc.kind === 'reply' && r.lintValid && !r.oursValid
      && /^duplicate:\d+:/.test(r.doc.mutation) && r.ours.every((e) => e.tag === 'bad-element' && e.path?.split('/').length === 3);
    const known = results.filter((r) => r.lintValid !== r.oursValid && isKnownGap(r));
    const disagree = results.filter((r) => r.lintValid !== r.oursValid && !isKnownGap(r));
    const valid = results.filter((r) => r.lintValid).length;
    const byKind = new Map<string, number>();
    for (const r of results) byKind.set(`${r.doc.kind}/${r.lintValid ? 'valid' : 'invalid'}`, (byKind.get(`${r.doc.kind}/${r.lintValid ? 'valid' : 'invalid'}`) ?? 0) + 1);
    const mutationKinds = new Set(results.map((r) => r.doc.mutation.split(':')[0]));
    console.log(`yang differential: ${results.length} documents (${valid} valid, ${results.length - valid} invalid per yanglint), `
      + `${mutationKinds.size} mutation kinds, ${[...byKind].map(([k, v]) => `${k}=${v}`).join(' ')}; disagreements: ${disagree.length}; `
      + `known oracle gap (top-level duplicate in a reply, rejected by us only): ${known.length}`);
    for (const d of disagree.slice(0, 20)) {
      console.log(`DISAGREE ${d.doc.id}\n  xml: ${d.xml}\n  yanglint: ${d.lintValid ? 'valid' : d.lintOut}\n  ours: ${d.oursValid ? 'valid' : JSON.stringify(d.ours.map((e) => [e.tag, e.path, e.message]))}`);
    }
    expect(disagree.map((d) => d.doc.id)).toEqual([]);
    // where both reject a value, the error-path names the same node as libyang's data location
    // (libyang omits list predicates; ours carry them, so they are dropped for the comparison)
    const located = results.filter((r) => !r.lintValid && r.ours.length === 1 && r.ours[0]!.tag === 'invalid-value');
    const pathMismatch = located.map((r) => {
      const lint = /Data location "([^"]+)"/.exec(r.lintOut)?.[1]?.replace(/\[[^\]]*\]/g, '');
      const ours = yang.validator.jsonPath(r.ours[0]!)?.replace(/\[[^\]]*\]/g, '');
      return lint === ours ? undefined : `${r.doc.id}: yanglint ${lint} ours ${ours}`;
    }).filter((x) => x !== undefined);
    console.log(`error-path check: ${located.length - pathMismatch.length} of ${located.length} invalid-value paths equal libyang's`);
    for (const m of pathMismatch.slice(0, 10)) console.log(`PATH ${m}`);
    expect(pathMismatch).toEqual([]);
    expect(located.length).toBeGreaterThan(200);
    // the gap is narrow: the same duplicate one level down, or in input/notifications, is caught by both
    expect(results.filter((r) => /^duplicate:\d+\.\d+/.test(r.doc.mutation) && !r.lintValid && !r.oursValid).length).toBeGreaterThan(5);
    expect(results.filter((r) => r.doc.kind !== 'reply' && /^duplicate:\d+:/.test(r.doc.mutation) && !r.lintValid && !r.oursValid).length).toBeGreaterThan(10);
    // the corpus exercises both outcomes in each kind of message
    for (const k of ['rpc', 'reply', 'notif']) {
      expect(byKind.get(`${k}/valid`) ?? 0).toBeGreaterThan(5);
      expect(byKind.get(`${k}/invalid`) ?? 0).toBeGreaterThan(20);
    }
    // every rejection of ours carries a tag and an absolute error-path with bound prefixes
    for (const r of results) {
      for (const e of r.ours) {
        expect(e.path?.startsWith('/')).toBe(true);
        for (const p of (e.path ?? '').match(/[a-z-]+(?=:)/g) ?? []) expect(e.pathNs?.[p]).toBeDefined();
      }
    }
  }, CORPUS_TIMEOUT_MS);

  it('agrees on generated configuration documents (our config containers and a fixture using every compiled feature)', async () => {
    const fixture = resolve(import.meta.dirname, '../yang/fixtures/features.yang');
    const ietf = join(YANG_DIR, 'ietf');
    const texts = await Promise.all((await readdir(ietf)).map(async (f) => ({ file: f, text: await readFile(join(ietf, f), 'utf8') })));
    texts.push({ file: fixture, text: await readFile(fixture, 'utf8') });
    const withFixture = compileTexts(texts);
    const sets = [
      { y: yang, docs: generateConfigCorpus(yang.validator.modules, 'henb-sw-verify'), schema: join(YANG_DIR, 'henb-sw-verify.yang') },
      { y: withFixture, docs: generateConfigCorpus(withFixture.validator.modules, 'features'), schema: fixture },
    ];
    let total = 0;
    let valid = 0;
    const disagree: string[] = [];
    for (const set of sets) {
      const prefixes = prefixesOf(set.y.validator.modules);
      const results = await pool(set.docs, 4, async (doc: CorpusDoc) => {
        const xml = serialize(doc.root, undefined, prefixes);
        const file = join(dir, `cfg-${doc.module}-${set.docs.indexOf(doc)}.xml`);
        await writeFile(file, xml);
        const lint = await yanglint(['-p', ietf, '-t', 'config', set.schema, file]);
        const ours = set.y.validator.validateConfig([parseXml(xml)]);
        const lintValid = lint.code === 0 && !/err\s*:/.test(lint.out);
        return { doc, xml, lintValid, lintOut: lint.out.trim(), ours };
      });
      for (const r of results) {
        total++;
        if (r.lintValid) valid++;
        if (r.lintValid !== (r.ours.length === 0)) {
          disagree.push(r.doc.id);
          console.log(`DISAGREE ${r.doc.id}\n  xml: ${r.xml}\n  yanglint: ${r.lintValid ? 'valid' : r.lintOut}\n  ours: ${JSON.stringify(r.ours.map((e) => [e.tag, e.path, e.message]))}`);
        }
      }
    }
    console.log(`yang differential (config): ${total} documents (${valid} valid, ${total - valid} invalid per yanglint); disagreements: ${disagree.length}`);
    expect(disagree).toEqual([]);
    expect(valid).toBeGreaterThan(20);
    expect(total - valid).toBeGreaterThan(100);
  });

  it('agrees on the RFC 7951 JSON form of every document (RESTCONF bodies)', async () => {
    const modules = yang.validator.modules;
    const corpus = generateCorpus(modules, OURS);
    const schemaArgs = ['-p', YANG_DIR, '-p', join(YANG_DIR, 'ietf'), ...OURS.map((m) => join(YANG_DIR, `${m}.yang`))];
    const partOf = (d: CorpusDoc) => {
      const m = modules.get(d.module)!;
      return d.kind === 'notif' ? m.notifications.get(d.op)! : d.kind === 'rpc' ? m.rpcs.get(d.op)!.input : m.rpcs.get(d.op)!.output;
    };
    const docs = corpus.map((d) => ({ d, json: toJson(d, modules, partOf(d).children) })).filter((x): x is { d: CorpusDoc; json: string } => x.json !== undefined);
    expect(docs.length).toBeGreaterThanOrEqual(300);
    const results = await pool(docs, 4, async ({ d, json }) => {
      const file = join(dir, `j-${corpus.indexOf(d)}.json`);
      await writeFile(file, json);
      const lint = await yanglint([...schemaArgs, '-t', d.kind, file]);
      const ours = yang.validator.validateJson(d.kind as 'rpc' | 'reply' | 'notif', json).errors;
      const lintValid = lint.code === 0 && !/err\s*:/.test(lint.out);
      return { d, json, lintValid, lintOut: lint.out.trim(), ours };
    });
    const gap = (r: (typeof results)[number]) => r.d.kind === 'reply' && r.lintValid && r.ours.length > 0 && /^duplicate:\d+:/.test(r.d.mutation);
    const disagree = results.filter((r) => r.lintValid !== (r.ours.length === 0) && !gap(r));
    const valid = results.filter((r) => r.lintValid).length;
    console.log(`yang differential (JSON): ${results.length} documents (${valid} valid, ${results.length - valid} invalid per yanglint); `
      + `disagreements: ${disagree.length}; known gap (top-level duplicate in a reply): ${results.filter(gap).length}`);
    for (const r of disagree.slice(0, 20)) {
      console.log(`DISAGREE ${r.d.id}\n  json: ${r.json}\n  yanglint: ${r.lintValid ? 'valid' : r.lintOut}\n  ours: ${JSON.stringify(r.ours.map((e) => [e.tag, e.path, e.message]))}`);
    }
    expect(disagree.map((r) => r.d.id)).toEqual([]);
    expect(valid).toBeGreaterThan(100);
  }, CORPUS_TIMEOUT_MS);
});
