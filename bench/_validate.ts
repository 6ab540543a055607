/**
 * YANG validation per message (issue 15): the messages of the update path validated N times each, ns per
 * validation and bytes allocated per validation (heap used before and after a loop in which no GC ran: v8.GCProfiler
 * says so), per case. The project's modules (yang/) are loaded as the OAM loads them (loadYang).
 *
 * With --baseline <tree> (a checkout of another commit, e.g. a git worktree of main with its node_modules), the same
 * cases also run against that tree's src/yang in the same process, in rounds alternating A B B A, and the ratios
 * new/old are printed (median of the per-round ratios, and their range). --check compares the two trees' verdicts
 * (every error's tag, app-tag, path, path prefixes, message, info) on the cases and on the generated corpus
 * (test/yang/corpus.ts: valid documents and their mutations, XML and RFC 7951 JSON) and fails on any difference.
 *
 * Not run by bench/run.ts (leading underscore). Re-executes itself with --expose-gc --max-semi-space-size=64 (room for the allocation loops) when not given.
 * Run: node --expose-gc --import tsx bench/_validate.ts [--baseline ../main] [--check] [--n 2000] [--rounds 6] [--case text]
 *      node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/_validate.ts --n 20000 --rounds 1 --only new
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GCProfiler } from 'node:v8';
import { parseXml, el, leaf } from '../src/netconf/xml/index.js';
import type { XmlElement } from '../src/netconf/xml/index.js';
import type { RpcErrorInfo } from '../src/netconf/rpc-error.js';
import {
  DEVICE_NS, attestationKeyXml, completionXml, integrityStateXml, measurementReplyXml, slotsXml, softwareUpdateXml,
} from '../src/device/index.js';
import type * as YangApi from '../src/yang/index.js';
import type * as ValidateApi from '../src/yang/validate.js';
import { generateConfigCorpus, generateCorpus, serialize, toJson } from '../test/yang/corpus.js';
import { benchArgs } from './_args.js';

if (typeof globalThis.gc !== 'function') {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=64', ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const gc = globalThis.gc as () => void;

const root = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const { opt } = benchArgs(argv);
const N = Number(opt('--n') ?? 2000);
const ROUNDS = Number(opt('--rounds') ?? 6);
const BASELINE = opt('--baseline');
const ONLY = opt('--only');
const CHECK = argv.includes('--check');
const CASE = opt('--case'); // only the cases whose name contains this

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const PVE = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve';

/** what a tree offers: its SchemaValidator, and its InstanceValidator for a state tree (a device's get reply) */
interface Impl {
  name: string;
  v: {
    modules: Map<string, unknown>;
    validateRpcInput(op: XmlElement): RpcErrorInfo[];
    validateRpcOutput(ns: string, rpc: string, out: XmlElement[]): RpcErrorInfo[];
    validateNotification(ev: XmlElement): RpcErrorInfo[];
    validateConfig(top: XmlElement[]): RpcErrorInfo[];
    validateJson(kind: 'rpc' | 'reply' | 'notif', doc: string): { errors: RpcErrorInfo[] };
  };
  state(top: XmlElement[]): RpcErrorInfo[];
}

async function loadImpl(name: string, tree: string): Promise<Impl> {
  const yang = await import(pathToFileURL(join(tree, 'src/yang/index.ts')).href) as typeof YangApi;
  const val = await import(pathToFileURL(join(tree, 'src/yang/validate.ts')).href) as typeof ValidateApi;
  const loaded = await yang.loadYang(join(root, 'yang'));
  const v = loaded.validator;
  const device = [...v.modules.values()].find((m) => m.ref.namespace === DEVICE_NS)!;
  return {
    name, v: v as unknown as Impl['v'],
    state(top) {
      // a state tree under the device module's top (the get reply's data), config false allowed
      const iv = new val.InstanceValidator(v.modules, { configOnly: false });
      iv.children(top, device.top, val.emptyPath(), undefined);
      return iv.result();
    },
  };
}

// --- the messages (shapes as the OAM, the device driver and the simulator build them) ---------------------

const DIGEST = (i: number): string => (i.toString(16).padStart(2, '0') + '0123456789abcdef'.repeat(4)).slice(0, 64);
const LOG = ['bootloader', 'kernel', 'rootfs', 'rf-firmware', 'config'].map((component, i) => ({ component, digest: DIGEST(i + 1) }));
const NONCE = Buffer.alloc(32, 7).toString('base64');
const JWS = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.' + 'eyJlYXRfbm9uY2UiOiJ4In0'.repeat(20) + '.' + 'c2lnbmF0dXJl'.repeat(7);

function nmsSoftwareUpdate(devices: number, bad = 0): XmlElement {
  return el(HSV, 'software-update',
    Array.from({ length: devices }, (_, i) => leaf(HSV, 'henb-id', i < bad ? `bad id ${i}` : `henb-${String(i).padStart(5, '0')}`)),
    el(HSV, 'software', leaf(HSV, 'uri', 'https://images.example.net/femto/fw-2.4.1.bin'), leaf(HSV, 'version', '2.4.1'), leaf(HSV, 'sha256', DIGEST(0))),
    leaf(HSV, 'self-check', true), leaf(HSV, 'on-mismatch', 'alarm'), leaf(HSV, 'on-mismatch', 'quarantine'), leaf(HSV, 'timeout', 120));
}

function nmsSoftwareUpdateReply(devices: number): XmlElement[] {
  return Array.from({ length: devices }, (_, i) => el(HSV, 'job',
    leaf(HSV, 'henb-id', `henb-${String(i).padStart(5, '0')}`), leaf(HSV, 'job-id', `job-${i}:1`), leaf(HSV, 'status', 'started')));
}

const pveIntegrityRequest = el(PVE, 'integrity-request',
  leaf(PVE, 'henb-id', 'henb-00042'), leaf(PVE, 'nonce-value', NONCE), leaf(PVE, 'job-id', 'job-42:1'),
  el(PVE, 'completion', leaf(PVE, 'status', 'completed'), leaf(PVE, 'self-check', 'passed'), leaf(PVE, 'software-version', '2.4.1'),
    leaf(PVE, 'tim', DIGEST(9)),
    el(PVE, 'measurement-log', LOG.map((e, i) => el(PVE, 'entry', leaf(PVE, 'index', i), leaf(PVE, 'component', e.component), leaf(PVE, 'digest', e.digest)))),
    el(PVE, 'evidence', leaf(PVE, 'evidence-format', 'software-key'), leaf(PVE, 'nonce-value', NONCE), leaf(PVE, 'signature-algorithm', 'ES256'),
      leaf(PVE, 'key-id', 'x'.repeat(43)), leaf(PVE, 'signature', Buffer.alloc(64, 3).toString('base64')))));

const completionTim = el(HSV, 'completion-tim',
  leaf(HSV, 'job-id', 'job-42:1'), leaf(HSV, 'henb-id', 'henb-00042'), leaf(HSV, 'tim', DIGEST(9)),
  el(HSV, 'measurement-log', LOG.map((e, i) => el(HSV, 'entry', leaf(HSV, 'index', i), leaf(HSV, 'component', e.component), leaf(HSV, 'digest', e.digest)))),
  leaf(HSV, 'self-check', 'passed'), leaf(HSV, 'status', 'completed'), leaf(HSV, 'software-version', '2.4.1'),
  el(HSV, 'evidence', leaf(HSV, 'evidence-format', 'software-key'), leaf(HSV, 'nonce-value', NONCE), leaf(HSV, 'signature-algorithm', 'ES256'),
    leaf(HSV, 'key-id', 'x'.repeat(43)), leaf(HSV, 'signature', Buffer.alloc(64, 3).toString('base64'))));

const deviceCompletion = completionXml({
  jobId: 'job-42:1', status: 'completed', tim: DIGEST(9), log: LOG, selfCheck: 'passed', softwareVersion: '2.4.1',
  evidence: { format: 'software-key', nonce: NONCE, signatureAlgorithm: 'ES256', keyId: 'x'.repeat(43), signature: Buffer.alloc(64, 3).toString('base64') },
});

const resultNotification = el(HSV, 'software-update-result',
  leaf(HSV, 'job-id', 'job-42:1'), leaf(HSV, 'henb-id', 'henb-00042'), leaf(HSV, 'status', 'verified'), leaf(HSV, 'software-version', '2.4.1'),
  leaf(HSV, 'expected-rim', DIGEST(9)), leaf(HSV, 'reported-tim', DIGEST(9)), leaf(HSV, 'attestation-result', JWS));

const progressNotification = el(HSV, 'software-update-progress',
  leaf(HSV, 'job-id', 'job-42:1'), leaf(HSV, 'henb-id', 'henb-00042'), leaf(HSV, 'step', 7), leaf(HSV, 'text', 'the H(e)NB installs the software'));

const deviceUpdate = softwareUpdateXml({ jobId: 'job-42:1', uri: 'https://192.0.2.1/fw-2.4.1.bin', softwareRim: DIGEST(0), selfCheck: true, version: '2.4.1', nonce: NONCE });

const measurementReply = measurementReplyXml({ format: 'software-key', tim: DIGEST(9), log: LOG, softwareVersion: '2.4.1', signatureAlgorithm: 'ES256', keyId: 'x'.repeat(43), signature: Buffer.alloc(64, 3).toString('base64') });

const deviceGet = [
  slotsXml([
    { name: 'A', status: 'VALID', active: true, running: true, version: '2.4.1', rim: DIGEST(9) },
    { name: 'B', status: 'VALID', active: false, running: false, version: '2.3.0', rim: DIGEST(8) },
  ]),
  integrityStateXml(DIGEST(9), LOG),
  attestationKeyXml({ format: 'software-key', signatureAlgorithm: 'ES256', keyId: 'x'.repeat(43), publicKey: Buffer.alloc(91, 5).toString('base64') }),
];

interface Case { name: string; valid: boolean; run: (i: Impl) => RpcErrorInfo[] }
const su1 = nmsSoftwareUpdate(1);
const su50 = nmsSoftwareUpdate(50);
const su50bad = nmsSoftwareUpdate(50, 5);
const su50reply = nmsSoftwareUpdateReply(50);
const ALL_CASES: Case[] = [
  { name: 'nms software-update input, 1 device', valid: true, run: (i) => i.v.validateRpcInput(su1) },
  { name: 'nms software-update input, 50 devices', valid: true, run: (i) => i.v.validateRpcInput(su50) },
  { name: 'nms software-update input, 50 (5 bad ids)', valid: false, run: (i) => i.v.validateRpcInput(su50bad) },
  { name: 'nms software-update output, 50 jobs', valid: true, run: (i) => i.v.validateRpcOutput(HSV, 'software-update', su50reply) },
  { name: 'pve integrity-request input (completion)', valid: true, run: (i) => i.v.validateRpcInput(pveIntegrityRequest) },
  { name: 'nms completion-tim input', valid: true, run: (i) => i.v.validateRpcInput(completionTim) },
  { name: 'device software-update-complete notif', valid: true, run: (i) => i.v.validateNotification(deviceCompletion) },
  { name: 'nms software-update-result notif', valid: true, run: (i) => i.v.validateNotification(resultNotification) },
  { name: 'nms software-update-progress notif', valid: true, run: (i) => i.v.validateNotification(progressNotification) },
  { name: 'device software-update input', valid: true, run: (i) => i.v.validateRpcInput(deviceUpdate) },
  { name: 'device integrity-measurement output', valid: true, run: (i) => i.v.validateRpcOutput(DEVICE_NS, 'integrity-measurement', measurementReply) },
  { name: 'device get reply (state tree)', valid: true, run: (i) => i.state(deviceGet) },
];

const CASES = ALL_CASES.filter((c) => CASE === undefined || c.name.includes(CASE));

// --- measuring ---------------------------------------------------------------------------------------------

let sink = 0;
function nsPer(c: Case, impl: Impl, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) sink += c.run(impl).length;
  return Number(process.hrtime.bigint() - t0) / n;
}

/** bytes allocated per validation: heap used after minus before a loop in which no GC ran (median of 5 loops) */
function bytesPer(c: Case, impl: Impl): number {
  return median(Array.from({ length: 5 }, () => bytesOnce(c, impl)));
}
function bytesOnce(c: Case, impl: Impl): number {
  for (let n = 200; n >= 10; n = Math.floor(n / 4)) {
    gc();
    const prof = new GCProfiler();
    prof.start();
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < n; k++) sink += c.run(impl).length;
    const after = process.memoryUsage().heapUsed;
    const gcs = prof.stop().statistics.length;
    if (gcs === 0) return (after - before) / n;
  }
  return NaN;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const ours = await loadImpl('new', root);
const impls: Impl[] = ONLY === 'new' || !BASELINE ? [ours] : [ours, await loadImpl('old', resolve(BASELINE))];

const verdict = (errs: RpcErrorInfo[]): string => JSON.stringify(errs);
let differences = 0;
for (const c of CASES) {
  const out = impls.map((i) => c.run(i));
  if ((out[0]!.length === 0) !== c.valid) throw new Error(`case "${c.name}": expected ${c.valid ? 'valid' : 'errors'}, got ${verdict(out[0]!)}`);
  if (out.length === 2 && verdict(out[0]!) !== verdict(out[1]!)) { differences++; console.log(`DIFFERENT verdicts on "${c.name}":\n  new ${verdict(out[0]!)}\n  old ${verdict(out[1]!)}`); }
}

if (CHECK && impls.length === 2) {
  const [a, b] = impls as [Impl, Impl];
  const modules = a.v.modules as Parameters<typeof generateCorpus>[0];
  const OURS = ['henb-sw-verify', 'henb-sw-verify-device', 'henb-sw-verify-pve'];
  const docs = [...generateCorpus(modules, OURS), ...OURS.flatMap((m) => generateConfigCorpus(modules, m))];
  let compared = 0;
  let invalid = 0;
  const run = (i: Impl, kind: string, e: XmlElement): RpcErrorInfo[] => kind === 'rpc' ? i.v.validateRpcInput(e)
    : kind === 'reply' ? i.v.validateRpcOutput(e.ns, e.name, e.children.filter((x): x is XmlElement => typeof x !== 'string'))
      : kind === 'notif' ? i.v.validateNotification(e) : i.v.validateConfig([e]);
  for (const d of docs) {
    const xml = serialize(d.root);
    const ra = run(a, d.kind, parseXml(xml));
    const rb = run(b, d.kind, parseXml(xml));
    compared++;
    if (ra.length > 0) invalid++;
    if (verdict(ra) !== verdict(rb)) { differences++; console.log(`DIFFERENT verdicts on corpus ${d.id} (${d.kind}):\n  new ${verdict(ra)}\n  old ${verdict(rb)}`); }
    if (d.kind === 'config') continue;
    const m = modules.get(d.module)!;
    const part = d.kind === 'notif' ? m.notifications.get(d.op)! : d.kind === 'rpc' ? m.rpcs.get(d.op)!.input : m.rpcs.get(d.op)!.output;
    const json = toJson(d, modules, part.children);
    if (json === undefined) continue;
    const ja = (() => { try { return verdict(a.v.validateJson(d.kind as 'rpc', json).errors); } catch (e) { return `throws ${(e as Error).message}`; } })();
    const jb = (() => { try { return verdict(b.v.validateJson(d.kind as 'rpc', json).errors); } catch (e) { return `throws ${(e as Error).message}`; } })();
    compared++;
    if (ja !== jb) { differences++; console.log(`DIFFERENT JSON verdicts on corpus ${d.id}:\n  new ${ja}\n  old ${jb}`); }
  }
  console.log(`check: ${compared} validations compared (${docs.length} corpus documents, XML and JSON; ${invalid} XML ones invalid), ${differences} differences`);
}
if (differences > 0) { console.log('verdicts differ: not measuring'); process.exit(1); }

// warm both (V8 optimises each tree's code on its own)
for (const c of CASES) for (const i of impls) nsPer(c, i, Math.min(N, 500));

const ns = new Map<string, number[]>(); // `${case}\0${impl}` -> ns per round
const ratios = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? impls : [...impls].reverse(); // A B, B A, A B ...
  for (const c of CASES) {
    const got: Record<string, number> = {};
    for (const i of order) {
      got[i.name] = nsPer(c, i, N);
      const k = `${c.name}\0${i.name}`;
      ns.set(k, [...(ns.get(k) ?? []), got[i.name]!]);
    }
    if (impls.length === 2) ratios.set(c.name, [...(ratios.get(c.name) ?? []), got.new! / got.old!]);
  }
}

const { loadavg } = await import('node:os');
console.log(`YANG validation per message: ${N} validations x ${ROUNDS} rounds per case${impls.length === 2 ? ` (new = ${root}, old = ${resolve(BASELINE!)}, rounds alternate A B / B A)` : ''}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const head = impls.length === 2
  ? ['case', 'new ns', 'old ns', 'new/old (median, range)', 'new B/op', 'old B/op', 'B ratio']
  : ['case', 'ns/validation', 'B/validation'];
console.log(head.join(' | '));
for (const c of CASES) {
  const m = impls.map((i) => median(ns.get(`${c.name}\0${i.name}`)!));
  const b = impls.map((i) => bytesPer(c, i));
  if (impls.length === 2) {
    const rs = ratios.get(c.name)!;
    console.log([c.name, fmt(m[0]!), fmt(m[1]!), `${fmt(median(rs), 2)} (${fmt(Math.min(...rs), 2)}-${fmt(Math.max(...rs), 2)})`, fmt(b[0]!), fmt(b[1]!), fmt(b[0]! / b[1]!, 2)].join(' | '));
  } else {
    console.log([c.name, fmt(m[0]!), fmt(b[0]!)].join(' | '));
  }
}
if (sink < 0) console.log(sink);
