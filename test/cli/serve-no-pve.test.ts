/**
 * `serve` with no pve section: the plugin is loaded (its module is advertised and its state served), and
 * the flow's RPCs are refused with a reason that names the missing configuration.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { parseConfig } from '../../src/config/load.js';
import { readManifest } from '../../src/plugin/manifest.js';
import { builtinPluginDir } from '../../src/plugin/host.js';
import { silentLogger } from '../../src/log/logger.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { el, leaf, serializeXml } from '../../src/netconf/xml/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';

let dir: string | undefined;
let server: RunningOamServer | undefined;
let client: NetconfClient | undefined;
afterEach(async () => {
  await client?.close().catch(() => undefined);
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  client = server = dir = undefined;
});

describe('serve without a PVE', () => {
  it('loads the plugin and refuses integrity-request with ERR_OAM_NO_PVE', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-nopve-'));
    const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
    const config = await parseConfig('listen: 127.0.0.1:0\nhenbs:\n  - henb-id: cell-1\n    address: 127.0.0.1\n', join(dir, 'serve.yaml'), { manifest, env: {} });
    server = await startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'data'), config, env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw' }, log: silentLogger });
    client = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: 'pw', insecureAcceptAnyHostKey: true });
    // the plugin's YANG 1.1 module is announced through ietf-yang-library (RFC 7950 5.6.4), not the hello
    const lib = await client.rpc('<get><filter type="subtree"><modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"><module><name>henb-sw-verify</name></module></modules-state></filter></get>');
    expect(serializeXml(lib)).toContain(`<namespace>${HSV_NS}</namespace>`);
    const err = await client.rpc(el(HSV_NS, 'integrity-request', leaf(HSV_NS, 'henb-id', 'cell-1'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetconfError);
    expect((err as NetconfError).errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'pve-unreachable' });
    expect((err as NetconfError).errors[0]!.message).toContain('ERR_OAM_NO_PVE');
  });
});
