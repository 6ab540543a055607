/**
 * Interop: the notification replay log lives in the shared store. Two `serve --config` instances (A and B) on one
 * PostgreSQL database (a throwaway cluster from scripts/postgres-peer-start.sh), with simulated femtocells over
 * NETCONF/SSH and the reference PVE over RESTCONF. A software-update runs on instance A to its signed result; an
 * NMS (python3-ncclient, a client we did not write) then connects to instance B and subscribes with a startTime
 * (RFC 5277 replay): it gets A's software-update-result, then replayComplete. Neither server writes a replay log
 * file of its own. A missing PostgreSQL or ncclient fails this suite (never a skip).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { startFleet } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';
import { startPve } from '../../src/pve/index.js';
import type { PveHandle } from '../../src/pve/index.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { child, childText } from '../../src/netconf/xml/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { EVENT_LOG_FILE, openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { endPostgresFile, startPostgresPeer } from '../helpers/peers.js';
import type { PostgresPeer } from '../helpers/peers.js';
import { until } from '../helpers/until.js';
import { runNcclient } from './helpers/ncclient.js';

const PEERS_DIR = '/tmp/hsv-interop-postgres-replay';
const ADMIN_PW = 'replay-admin-pw';

interface Serving { port: number; hostKey: string; stop: AbortController; done: Promise<number>; dataDir: string }

let dir: string;
let cluster: PostgresPeer | undefined;
let url: string;
let pgPassword: string;
let fleet: Fleet;
let pve: PveHandle;
let db: Store;
let software: string;
const servers: Serving[] = [];

/** one `serve` instance: its own data directory and instance-id, the shared database */
async function serve(id: string): Promise<Serving> {
  const henbs = fleet.devices.map((d) => `  - henb-id: ${d.henbId}\n    address: ${d.host}\n    port: ${d.port}\n    ssh-host-key: ${d.hostKeySha256}\n    username: ${d.username}\n    password: { env: DEV_PW }\n`).join('');
  const file = join(dir, `${id}.yaml`);
  await writeFile(file, `listen: 127.0.0.1:0
data-dir: ${id}
logging: { level: warn }
henbs:
${henbs}pve:
  endpoint: ${pve.url}
  ca: ${pve.caPath}
  jwks: pve-jwks.json
software:
  file-root: ${join(dir, 'sw')}
store:
  driver: postgres
  url: ${url}
  password: { env: PG_PW }
  instance-id: ${id}
  lease: 30
policies:
  step-timeout: 20
`);
  const out = new BufferWritable();
  const stop = new AbortController();
  const env = { HENB_SW_VERIFY_ADMIN_PASSWORD: ADMIN_PW, DEV_PW: fleet.devices[0]!.password, PG_PW: pgPassword };
  const done = runCli(['serve', '--config', file, '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: stop.signal });
  await until(() => out.text().includes('\n'), `instance ${id} ready`, 30_000);
  const ready = JSON.parse(out.text()) as { port: number; hostKey: string };
  const s = { port: ready.port, hostKey: ready.hostKey, stop, done, dataDir: join(dir, id) };
  servers.push(s);
  return s;
}

beforeAll(async () => {
  if (!existsSync('/usr/bin/python3')) throw new Error('/usr/bin/python3 is missing: run sudo scripts/install-peers.sh');
  dir = await mkdtemp(join(tmpdir(), 'hsv-pg-replay-'));
  cluster = await startPostgresPeer(PEERS_DIR);
  ({ url, password: pgPassword } = cluster.credentials());
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 1 }], dataDir: join(dir, 'fleet') });
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices, referenceValues: fleet.referenceValues });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));
  await mkdir(join(dir, 'sw'));
  await writeFile(join(dir, 'sw', 'image.bin'), 'image 2.0.0\n'.repeat(100));
  software = `file://${join(dir, 'sw', 'image.bin')}`;
  db = await openStore({ driver: 'postgres', url, password: pgPassword });
}, 90_000);

afterAll(() => endPostgresFile([
  async () => {
    for (const s of servers) {
      s.stop.abort();
      expect(await s.done).toBe(0);
    }
  },
  () => db?.close(), () => pve?.close(), () => fleet?.close(),
], cluster, dir), 60_000);

describe('two serve instances on PostgreSQL share the notification replay log', () => {
  it('an NMS subscribed to instance B replays (startTime) the result that instance A produced', async () => {
    const [a, b] = [await serve('oam-a'), await serve('oam-b')];
    const startTime = new Date(Date.now() - 1000).toISOString();
    const henbId = fleet.devices[0]!.henbId;

    // the update on instance A, to its signed result
    const client = await connectNetconf({ host: '127.0.0.1', port: a.port, username: 'admin', password: ADMIN_PW, hostKeySha256: a.hostKey, rpcTimeoutMs: 30_000 });
    let jobId: string;
    try {
      const reply = await client.rpc(`<software-update xmlns="${HSV_NS}"><henb-id>${henbId}</henb-id><software><uri>${software}</uri><version>2.0.0</version></software></software-update>`);
      const out = child(reply, HSV_NS, 'job')!;
      expect(childText(out, HSV_NS, 'status')).toBe('started');
      jobId = childText(out, HSV_NS, 'job-id')!;
    } finally {
      await client.close();
    }
    await until(async () => (await db.getJob(jobId))?.terminal === true, 'the job on instance A final', 60_000);
    expect(await db.getJob(jobId)).toMatchObject({ owner: 'oam-a', state: 'verified' });

    // the NMS on instance B: A's progress and result, in order, then replayComplete
    const { steps, code, stderr } = await runNcclient('ncclient_replay.py', b.port, ['henb-sw-verify', startTime], undefined, { user: 'admin', password: ADMIN_PW });
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    const notes = steps.get('replay')!.notes as Array<{ name: string; 'job-id': string | null; status: string | null }>;
    expect(notes.at(-1)?.name).toBe('replayComplete');
    const results = notes.filter((n) => n.name === 'software-update-result');
    expect(results).toEqual([{ name: 'software-update-result', 'job-id': jobId, status: 'verified' }]);
    expect(notes.filter((n) => n.name === 'software-update-progress').every((n) => n['job-id'] === jobId)).toBe(true);
    expect(notes.findIndex((n) => n.name === 'software-update-result')).toBeGreaterThan(notes.findIndex((n) => n.name === 'software-update-progress'));

    // one log, in the database: neither server keeps a file of its own
    expect((await db.listNotifications({ since: 0, stream: 'henb-sw-verify' })).length).toBe(notes.length - 1);
    for (const s of [a, b]) expect(existsSync(join(s.dataDir, EVENT_LOG_FILE)), s.dataDir).toBe(false);
  }, 120_000);
});
