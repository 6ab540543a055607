// serve with `metrics: {listen}` (issue 14): Prometheus text at /metrics, /healthz and /readyz over loopback, fed by
// a real deployment (simulated devices, the reference PVE, NETCONF clients). The test scrapes the endpoint as
// Prometheus would and reads the series a dashboard uses (examples/grafana/henb-sw-verify.json).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pve: PveHandle;
const stop = new AbortController();
let serving: Promise<number>;
let ready: { port: number; hostKey: string; metrics: { host: string; port: number } };
const env = { DEV_PW: '', HENB_SW_VERIFY_ADMIN_PASSWORD: 'admin-secret' };
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(`http://127.0.0.1:${ready.metrics.port}${path}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

/** the value of one series in Prometheus text, or undefined */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-metrics-'));
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 1 }, { profile: 'compromised', count: 1 }], dataDir: join(dir, 'fleet') });
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices, referenceValues: fleet.referenceValues });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));
  env.DEV_PW = fleet.devices[0]!.password;
  const henbs = fleet.devices.map((d) => `  - henb-id: ${d.henbId}\n    address: ${d.host}\n    port: ${d.port}\n    ssh-host-key: ${d.hostKeySha256}\n    username: ${d.username}\n    password: { env: DEV_PW }\n`).join('');
  await mkdir(join(dir, 'sw'));
  await writeFile(join(dir, 'sw', 'image.bin'), 'image 2.0.0\n');
  await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0
data-dir: oam
logging: { level: silent }
metrics:
  listen: 127.0.0.1:0
henbs:
${henbs}pve:
  endpoint: ${pve.url}
  ca: ${pve.caPath}
  jwks: pve-jwks.json
software:
  file-root: sw
policies:
  step-timeout: 20
`);
  const out = new BufferWritable();
  serving = runCli(['serve', '--config', join(dir, 'config.yaml'), '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: stop.signal });
  await until(() => out.text().includes('\n'), 'the ready line');
  ready = JSON.parse(out.text()) as typeof ready;
}, 60_000);

afterAll(async () => {
  stop.abort();
  expect(await serving).toBe(0);
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('metrics and health', () => {
  it('the ready line names the metrics address; /healthz is ok, /readyz checks the store, the signing key and the PVE', async () => {
    expect(ready.metrics).toMatchObject({ host: '127.0.0.1', port: expect.any(Number) });
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    const r = await get('/readyz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ready: true, checks: { store: { ok: true }, 'signing-key': { ok: true }, pve: { ok: true } } });
    expect((await get('/nope')).status).toBe(404);
  });

  it('serves Prometheus text that follows updates, RPCs and logins', async () => {
    // a failed login, an rpc-error, and two updates (one verified, one refused by the PVE)
    await expect(connectNetconf({ host: '127.0.0.1', port: ready.port, username: 'admin', password: 'wrong', hostKeySha256: ready.hostKey })).rejects.toThrow();
    const c = await connectNetconf({ host: '127.0.0.1', port: ready.port, username: 'admin', password: 'admin-secret', hostKeySha256: ready.hostKey });
    try {
      await expect(c.rpc(`<software-update xmlns="${HSV}"><henb-id>nobody</henb-id><software><uri>file://${join(dir, 'sw', 'image.bin')}</uri></software></software-update>`)).rejects.toThrow();
      const m0 = await get('/metrics');
      expect(m0.status).toBe(200);
      expect(m0.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sample(m0.body, 'hsv_netconf_sessions')).toBeGreaterThanOrEqual(1);
      for (const d of fleet.devices) {
        await c.rpc(`<software-update xmlns="${HSV}"><henb-id>${d.henbId}</henb-id><software><uri>file://${join(dir, 'sw', 'image.bin')}</uri></software></software-update>`);
      }
      let text = '';
      await until(async () => {
        await new Promise((r) => setTimeout(r, 100));
        text = (await get('/metrics')).body;
        // the result counter is counted when the result is notified; the jobs gauge is read from the store and the
        // step durations are observed after a read of the job's history: wait for all three, then check them exactly
        return (sample(text, 'hsv_job_results_total{kind="software-update",outcome="verified"}') ?? 0) >= 1
          && (sample(text, 'hsv_job_results_total{kind="software-update",outcome="refused"}') ?? 0) >= 1
          && sample(text, 'hsv_jobs{kind="software-update",state="verified",final="true"}') !== undefined
          && sample(text, 'hsv_jobs{kind="software-update",state="refused",final="true"}') !== undefined
          && (sample(text, 'hsv_job_step_duration_seconds_count{kind="software-update",state="pve-requested"}') ?? 0) >= 2;
      }, 'both results, both final jobs and their step durations in /metrics', 30_000);
      expect(sample(text, 'hsv_jobs{kind="software-update",state="verified",final="true"}')).toBe(1);
      expect(sample(text, 'hsv_jobs{kind="software-update",state="refused",final="true"}')).toBe(1);
      expect(sample(text, 'hsv_job_step_duration_seconds_count{kind="software-update",state="awaiting-completion"}')).toBe(1);
      expect(sample(text, 'hsv_job_step_duration_seconds_count{kind="software-update",state="pve-requested"}')).toBe(2);
      // the verified update asked the PVE twice (before, and to appraise the completion), the refused one once
      expect(sample(text, 'hsv_pve_request_duration_seconds_count{result="ok"}')).toBe(3);
      expect(text).toContain('# TYPE hsv_pve_errors_total counter');
      expect(text).toContain('# TYPE hsv_device_errors_total counter');
      expect(sample(text, 'hsv_netconf_rpcs_total{operation="software-update",error_tag="invalid-value"}')).toBe(1);
      expect(sample(text, 'hsv_netconf_rpcs_total{operation="software-update",error_tag="none"}')).toBe(2);
      expect(sample(text, 'hsv_failed_logins_total{method="password"}')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'hsv_notification_log_events')).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('the Grafana dashboard in examples/ queries only series the endpoint serves', async () => {
    const dash = JSON.parse(await readFile(fileURLToPath(new URL('../../examples/grafana/henb-sw-verify.json', import.meta.url)), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const text = (await get('/metrics')).body;
    const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.length).toBeGreaterThan(5);
    for (const e of exprs) {
      for (const name of e.match(/hsv_[a-z_]+/g) ?? []) expect(text, `${name} in ${e}`).toMatch(new RegExp(`^# TYPE ${name.replace(/_(bucket|sum|count)$/, '')} `, 'm'));
    }
  });

  it('/readyz is 503 naming the PVE when the PVE is down', async () => {
    await pve.close();
    const r = await get('/readyz');
    expect(r.status).toBe(503);
    const body = JSON.parse(r.body) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
    expect(body.ready).toBe(false);
    expect(body.checks.pve?.ok).toBe(false);
    expect(body.checks.store?.ok).toBe(true);
  });
});
