import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreatePveTls } from '../../src/pve/tls.js';
import { generateSigningKey } from '../../src/tokens/index.js';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { combinedSchema } from '../../src/config/schema.js';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';

const manifest = JSON.parse(readFileSync(new URL('../../plugin.json', import.meta.url), 'utf8')) as { configSchema: Record<string, unknown> };

describe('the combined config schema (serve --print-schema)', () => {
  it('is printed by serve --print-schema and accepts / refuses what the loader does', async () => {
    const out = new BufferWritable();
    expect(await runCli(['serve', '--print-schema'], { stdout: out, stderr: new BufferWritable(), env: {}, signal: new AbortController().signal })).toBe(0);
    const printed = JSON.parse(out.text()) as Record<string, unknown>;
    expect(printed).toEqual(combinedSchema(manifest.configSchema));
    const validate = new Ajv({ strict: false, allErrors: true }).compile(printed);
    const good = parse('listen: 127.0.0.1:830\nusers: [{ name: a, password: { env: X } }]\nhenbs: [{ henb-id: h1, address: 10.0.0.1 }]\npve: { endpoint: "https://p:1/restconf", ca: ca.pem }\n');
    expect(validate(good)).toBe(true);
    for (const bad of ['henbs: [{ henb-id: h1, address: x, port: 70000 }]', 'users: [{ name: a, password: plain }]', 'polices: {}', 'pve: { endpoint: ftp://x }',
      // cross-field rules (if/then): restconf needs a CA, netconf an ssh:// endpoint, sqlite takes no url
      'pve: { endpoint: "https://p:1/restconf" }', 'pve: { endpoint: "https://p:1/restconf", transport: netconf, ssh-host-key: x, username: u, password: { env: P } }',
      'store: { url: "postgres://u@h/d" }']) {
      expect(validate(parse(bad))).toBe(false);
    }
  });
});

describe('examples/config/serve.yaml', () => {
  it('passes serve --check once the files it names exist (pve.ca, pve.jwks, software.file-root, data-dir)', async () => {
    const file = new URL('../../examples/config/serve.yaml', import.meta.url).pathname;
    const sample = readFileSync(file, 'utf8');
    const dir = await mkdtemp(join(tmpdir(), 'hsv-sample-'));
    try {
      const env = { HSV_NMS_PASSWORD: 'a', HSV_HENB_PASSWORD: 'b' };
      // as shipped, on a machine without /etc/henb-sw-verify: --check says what is missing, as a start would
      const asShipped = new BufferWritable();
      expect(await runCli(['serve', '--config', file, '--check'], { stdout: new BufferWritable(), stderr: asShipped, env, signal: new AbortController().signal })).toBe(2);
      expect(asShipped.text()).toContain(`ERR_CONFIG_FILE: ${file}: pve.ca: /etc/henb-sw-verify/pve-ca.pem: cannot read the PEM file (ENOENT`);

      const { caPath } = await loadOrCreatePveTls(join(dir, 'pve'), ['127.0.0.1']);
      await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify({ keys: [(await generateSigningKey()).publicJwk] }));
      await mkdir(join(dir, 'images'));
      const local = sample
        .replace('listen: 127.0.0.1:8830', 'listen: 127.0.0.1:0')
        .replace('/var/lib/henb-sw-verify', join(dir, 'data'))
        .replace('/etc/henb-sw-verify/pve-ca.pem', caPath)
        .replace('/etc/henb-sw-verify/pve-jwks.json', join(dir, 'pve-jwks.json'))
        .replace('/srv/henb-images', join(dir, 'images'));
      await writeFile(join(dir, 'serve.yaml'), local);
      const out = new BufferWritable();
      const err = new BufferWritable();
      const code = await runCli(['serve', '--config', join(dir, 'serve.yaml'), '--check', '--json'], { stdout: out, stderr: err, env, signal: new AbortController().signal });
      expect(err.text()).toBe('');
      expect(code).toBe(0);
      expect(JSON.parse(out.text())).toMatchObject({ ok: true, henbs: 2, users: ['nms'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
