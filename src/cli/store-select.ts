/**
 * Which store an offline command (audit, rotate-key) opens, the way `serve` would: the built-in plugin's `store`
 * section of --config FILE when given (PostgreSQL: its url and password secret), else the SQLite file under
 * DIR/plugins/henb-sw-verify (DIR is the serve data dir). A SQLite store that does not exist is a usage error,
 * never created by a command that only reads or adds a record.
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CliContext } from './command.js';
import { CliUsageError } from './errors.js';
import { importComponent } from './lazy.js';
import type { OpenStoreOptions, Store } from '../store/index.js';

/** the built-in plugin's data directory under a serve data dir */
export function oamPluginDir(dataDir: string): string {
  return join(dataDir, 'plugins', 'henb-sw-verify');
}

interface StoreModule { openStore(o: OpenStoreOptions): Promise<Store>; SQLITE_FILE_NAME: string }
interface PluginModule { storeFromConfig(cfg: unknown, dataDir: string): OpenStoreOptions }

/** Opens the store a serve with this data dir (and config file) uses. */
export async function openCommandStore(command: string, dataDir: string, configFile: string | undefined, ctx: CliContext): Promise<Store> {
  const pluginDir = oamPluginDir(dataDir);
  let options: OpenStoreOptions = { driver: 'sqlite', dataDir: pluginDir };
  if (configFile !== undefined) {
    const [{ loadConfigFile }, { resolveSecrets }, { readManifest }, { builtinPluginDir }] = await Promise.all([
      import('../config/load.js'), import('../config/secrets.js'), import('../plugin/manifest.js'), import('../plugin/host.js')]);
    const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
    const config = await loadConfigFile(resolve(ctx.cwd, configFile), { manifest, env: ctx.env });
    // the plugin's secrets (store.password) are resolved as the plugin host resolves them for serve
    const storeSection = await resolveSecrets((config.builtin as { store?: unknown }).store, ctx.env, config.baseDir, config.file ?? configFile, ['store']);
    const plugin = await importComponent<PluginModule>('../oam-plugin/index.js', 'the OAM plugin (src/oam-plugin)', 'storeFromConfig');
    options = plugin.storeFromConfig(storeSection, pluginDir);
  }
  const store = await importComponent<StoreModule>('../store/index.js', 'the store (src/store)', 'openStore');
  if ((options.driver ?? 'sqlite') === 'sqlite') {
    const file = join(pluginDir, store.SQLITE_FILE_NAME);
    try {
      await access(file);
    } catch {
      throw new CliUsageError(`${command}: no store database ${file} (is ${dataDir} the data dir of a serve that has run once? a PostgreSQL store needs --config FILE)`);
    }
  }
  return store.openStore(options);
}
