import { readFileSync } from 'node:fs';
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
    const good = parse('listen: 127.0.0.1:830\nusers: [{ name: a, password: { env: X } }]\nhenbs: [{ henb-id: h1, address: 10.0.0.1 }]\npve: { endpoint: "https://p:1/restconf" }\n');
    expect(validate(good)).toBe(true);
    for (const bad of ['henbs: [{ henb-id: h1, address: x, port: 70000 }]', 'users: [{ name: a, password: plain }]', 'polices: {}', 'pve: { endpoint: ftp://x }']) {
      expect(validate(parse(bad))).toBe(false);
    }
  });
});

describe('examples/config/serve.yaml', () => {
  it('passes serve --check', async () => {
    const file = new URL('../../examples/config/serve.yaml', import.meta.url).pathname;
    const out = new BufferWritable();
    const err = new BufferWritable();
    const code = await runCli(['serve', '--config', file, '--check', '--json'], { stdout: out, stderr: err, env: { HSV_NMS_PASSWORD: 'a', HSV_HENB_PASSWORD: 'b' }, signal: new AbortController().signal });
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({ ok: true, henbs: 2, users: ['nms'] });
  });
});
