/**
 * The modules under libyang (issue 3): every module in yang/ loads in yanglint with no error and no
 * warning (verbose mode, so warnings are printed), file names match module names and revisions,
 * loadYang serves each file's text unchanged, and docs/yang-tree.md is what scripts/yang-tree.sh
 * prints today.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadYang } from '../../src/yang/index.js';
import { parseXml } from '../../src/netconf/xml/index.js';
import { generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import ssh2 from '../../src/netconf/ssh/ssh2.js';

const ROOT = resolve(import.meta.dirname, '../..');
const YANG = join(ROOT, 'yang');
const IETF = join(YANG, 'ietf');

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { timeout: 30_000, maxBuffer: 8 << 20 }, (e, stdout, stderr) => {
      if (e && typeof e.code !== 'number') { rej(e); return; }
      res({ code: e ? (e.code as number) : 0, out: stdout, err: stderr });
    });
  });
}

/** lines that are neither verbose progress nor empty: errors and warnings */
function problems(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !/^libyang verb:/.test(l));
}

async function moduleFiles(): Promise<string[]> {
  const top = (await readdir(YANG)).filter((f) => f.endsWith('.yang')).map((f) => join(YANG, f));
  const ietf = (await readdir(IETF)).filter((f) => f.endsWith('.yang')).map((f) => join(IETF, f));
  return [...top, ...ietf].sort();
}

describe('yanglint accepts the modules', () => {
  it('finds yanglint (scripts/install-peers.sh installs libyang2-tools)', async () => {
    const v = await run('yanglint', ['-v']);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/yanglint 2\./);
  });

  it('loads every module alone with no error and no warning', async () => {
    const files = await moduleFiles();
    expect(files.length).toBeGreaterThanOrEqual(3 + 5);
    for (const f of files) {
      const r = await run('yanglint', ['-V', '-p', IETF, f]);
      expect({ file: f, code: r.code, problems: problems(r.out + r.err) }).toEqual({ file: f, code: 0, problems: [] });
    }
  });

  it('loads all modules together with no error and no warning', async () => {
    const r = await run('yanglint', ['-V', '-p', IETF, ...await moduleFiles()]);
    expect(problems(r.out + r.err)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('an error or warning would be seen: a broken module fails the same check', async () => {
    // guards the check itself: a mandatory leaf with a default is an error in libyang
    const r = await run('yanglint', ['-V', '-p', IETF, join(ROOT, 'test/yang/fixtures/broken.yang')]);
    expect(r.code).not.toBe(0);
    expect(problems(r.out + r.err).join('\n')).toMatch(/libyang err/);
    // and a warning (importing one module twice) is printed in verbose mode, so the check sees it
    const w = await run('yanglint', ['-V', '-p', IETF, join(ROOT, 'test/yang/fixtures/warns.yang')]);
    expect(problems(w.out + w.err).join('\n')).toMatch(/libyang warn/);
  });

  it('names files after their module (and revision under yang/ietf), and loadYang serves them unchanged', async () => {
    const { modules } = await loadYang(YANG);
    for (const f of await moduleFiles()) {
      const text = await readFile(f, 'utf8');
      const name = /^\s*module\s+([\w.-]+)/m.exec(text)?.[1];
      const m = modules.find((x) => x.name === name);
      expect(m, f).toBeDefined();
      expect(m!.text).toBe(text);
      const base = f.slice(f.lastIndexOf('/') + 1);
      expect(base).toBe(f.startsWith(IETF) ? `${m!.name}@${m!.revision}.yang` : `${m!.name}.yang`);
    }
    // libyang reports the same name, revision and namespace
    for (const m of modules) {
      const file = m.text;
      const r = await run('yanglint', ['-p', IETF, '-f', 'info', (await moduleFiles()).find((f) => f.includes(`/${m.name}.yang`) || f.includes(`/${m.name}@`))!]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`module ${m.name}`);
      expect(r.out).toContain(m.namespace);
      expect(file).toMatch(new RegExp(`revision\\s+"?${m.revision}"?`));
    }
  });

  it('typedef ssh-host-key (henb-sw-verify 2026-12-03): yanglint and our validator accept and refuse the same inventory values', async () => {
    const parsed = ssh2.utils.parseKey(generateEd25519KeyPair('lint').public);
    if (parsed instanceof Error) throw parsed;
    const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH().toString('base64');
    const cases: Array<[string, boolean]> = [
      [`SHA256:${'A'.repeat(43)}`, true], [`ssh-ed25519 ${blob}`, true], [`ssh-ed25519 ${blob} henb@bench`, true],
      [`ecdsa-sha2-nistp256 ${blob}`, true], // the pattern: the blob's own type is checked where the key is used
      ['SHA256:short', false], ['ssh-ed25519', false], [`ssh-foo ${blob}`, false], ['md5:aa:bb', false], [`ssh-ed25519 ${blob}\nx`, false],
    ];
    const y = await loadYang(YANG);
    const tmp = await mkdtemp(join(tmpdir(), 'hsv-yanglint-key-'));
    try {
      for (const [value, ok] of cases) {
        const xml = `<inventory xmlns="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"><henb><henb-id>a</henb-id><address>192.0.2.1</address><ssh-host-key>${value}</ssh-host-key></henb></inventory>`;
        const f = join(tmp, 'inv.xml');
        await writeFile(f, xml);
        const lint = await run('yanglint', ['-p', IETF, '-t', 'config', join(YANG, 'henb-sw-verify.yang'), f]);
        expect(lint.code === 0, `yanglint on ${JSON.stringify(value)}: ${lint.err}`).toBe(ok);
        expect(y.validator.validateConfig([parseXml(xml)]).length === 0, `ours on ${JSON.stringify(value)}`).toBe(ok);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('docs/yang-tree.md is current (rerun scripts/yang-tree.sh after changing yang/)', async () => {
    const r = await run('sh', [join(ROOT, 'scripts/yang-tree.sh'), '--stdout']);
    expect(r.code).toBe(0);
    const doc = await readFile(join(ROOT, 'docs/yang-tree.md'), 'utf8');
    expect(doc).toBe(r.out);
    for (const m of ['henb-sw-verify', 'henb-sw-verify-device', 'henb-sw-verify-pve']) expect(doc).toContain(`module: ${m}`);
  });
});
