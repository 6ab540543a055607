/**
 * Upgrading `serve` from a version before migration 6, whose server kept its notifications in
 * DATA_DIR/event-log.sqlite: the OAM plugin provides the replay log in its store, the server imports the old file
 * into it and renames it, and an NMS that subscribes with startTime replays the old results over NETCONF.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { parseConfig } from '../../src/config/load.js';
import { readManifest } from '../../src/plugin/manifest.js';
import { builtinPluginDir } from '../../src/plugin/host.js';
import { silentLogger } from '../../src/log/logger.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { serializeXml } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { EVENT_LOG_FILE } from '../../src/store/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { writeOldEventLog } from '../store/old-event-log.js';

let dir: string | undefined;
let server: RunningOamServer | undefined;
let client: NetconfClient | undefined;
afterEach(async () => {
  await client?.close().catch(() => undefined);
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  client = server = dir = undefined;
});

it('the old event-log.sqlite is imported at the first start and replayed to an NMS; renamed, never imported twice', async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-legacy-serve-'));
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const at = Date.now() - 120_000;
  const old = `<software-update-result xmlns="${HSV_NS}"><henb-id>cell-1</henb-id><job-id>job-before-upgrade</job-id><status>verified</status></software-update-result>`;
  writeOldEventLog(dataDir, [{ stream: 'henb-sw-verify', at, xml: old }]);
  const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
  const config = await parseConfig('listen: 127.0.0.1:0\n', join(dir, 'serve.yaml'), { manifest, env: {} });
  const start = () => startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir, config, env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw' }, log: silentLogger });

  const replayed = async (): Promise<string[]> => {
    client = await connectNetconf({ host: '127.0.0.1', port: server!.address.port, username: 'admin', password: 'pw', insecureAcceptAnyHostKey: true });
    const got: string[] = [];
    const reading = (async () => {
      for await (const n of client!.notifications()) {
        const body = n.children.filter((c): c is XmlElement => typeof c !== 'string')[1]!;
        if (body.name === 'replayComplete') return;
        got.push(serializeXml(body));
      }
    })();
    await client.rpc(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><stream>henb-sw-verify</stream><startTime>${new Date(at - 1000).toISOString()}</startTime></create-subscription>`);
    await reading;
    await client.close();
    client = undefined;
    return got;
  };

  server = await start();
  expect(await replayed()).toEqual([old]);
  expect(existsSync(join(dataDir, EVENT_LOG_FILE))).toBe(false);
  expect(existsSync(join(dataDir, `${EVENT_LOG_FILE}.imported`))).toBe(true);
  await server.close();

  server = await start();
  expect(await replayed()).toEqual([old]);
});
