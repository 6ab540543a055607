// An interrupted rollout resumes a started device by following its job (job state + notification replay),
// never by sending the software-update again.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { NETCONF_BASE_NS, child, childText, childrenNamed, el } from '../../src/netconf/xml/index.js';
import type { RolloutReport } from '../../src/cli/rollout/report.js';
import { until } from '../helpers/until.js';
import { useServingDemo } from '../helpers/demo.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const PW = 'resume-pw';
let dir: string;
let ready: { port: number; hostKey: string; software: string };


useServingDemo('slow=1', PW, 'hsv-resume-', (demo) => {
  dir = demo.dir;
  ready = demo.ready;
});

describe('rollout resume of a started device', () => {
  it('interrupt while waiting (exit 130, report interrupted), resume follows the same job to its result', async () => {
    const report = join(dir, 'report.json');
    const env = { HENB_SW_VERIFY_PASSWORD: PW };
    const args = ['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey, '--report', report];
    const interrupt = new AbortController();
    const first = runCli([...args, '--software', ready.software], { stdout: new BufferWritable(), stderr: new BufferWritable(), env, signal: interrupt.signal });
    const started = async (): Promise<boolean> => {
      try {
        return (JSON.parse(await readFile(report, 'utf8')) as RolloutReport).devices[0]?.state === 'started';
      } catch {
        return false;
      }
    };
    await until(started, 'slow-1 started');
    interrupt.abort();
    expect(await first).toBe(130);
    const paused = JSON.parse(await readFile(report, 'utf8')) as RolloutReport;
    expect(paused.state).toBe('interrupted');
    expect(paused.haltReason).toContain('interrupted');
    const jobId = paused.devices[0]?.jobId;
    expect(jobId).toMatch(/^job-/);

    const out = new BufferWritable();
    const code = await runCli([...args, '--resume', '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: new AbortController().signal });
    expect(code).toBe(1);
    const final = JSON.parse(out.text()) as RolloutReport;
    expect(final.devices[0]).toMatchObject({ henbId: 'slow-1', state: 'done', status: 'timeout', jobId });

    // the server knows exactly one job for slow-1: the update was never sent twice
    const c = await connectNetconf({ host: '127.0.0.1', port: ready.port, username: 'admin', password: PW, hostKeySha256: ready.hostKey });
    try {
      const reply = await c.rpc(el(NETCONF_BASE_NS, 'get', { ns: NETCONF_BASE_NS, name: 'filter', attrs: [{ ns: '', name: 'type', value: 'subtree' }], children: [el(HSV, 'jobs')] }));
      const jobs = childrenNamed(child(child(reply, NETCONF_BASE_NS, 'data')!, HSV, 'jobs')!, HSV, 'job');
      expect(jobs.filter((j) => childText(j, HSV, 'henb-id') === 'slow-1').map((j) => childText(j, HSV, 'job-id'))).toEqual([jobId]);
    } finally {
      await c.close();
    }
  }, 60_000);
});
