/** Errors of the plugin host. Every code is listed in docs/errors.md. */
import { HsvError } from '../errors.js';
import type { SchemaIssue } from '../config/schema-issues.js';

export type PluginErrorCode =
  | 'ERR_PLUGIN_MANIFEST'
  | 'ERR_PLUGIN_HOST_VERSION'
  | 'ERR_PLUGIN_CONFIG'
  | 'ERR_PLUGIN_REQUIRES'
  | 'ERR_PLUGIN_LOAD'
  | 'ERR_PLUGIN_DUPLICATE'
  | 'ERR_PLUGIN_CONFLICT'
  | 'ERR_PLUGIN_UNDECLARED'
  | 'ERR_PLUGIN_SEALED'
  | 'ERR_PLUGIN_SCOPE'
  | 'ERR_PLUGIN_CLOSED'
  | 'ERR_PLUGIN_ACTIVATE'
  | 'ERR_PLUGIN_TIMEOUT'
  | 'ERR_PLUGIN_CLOSE';

export class PluginError extends HsvError<PluginErrorCode> {
  /** schema issues (manifest / config errors) */
  readonly issues: SchemaIssue[];
  constructor(code: PluginErrorCode, message: string, options?: { cause?: unknown; issues?: SchemaIssue[] }) {
    super(code, message, options);
    this.issues = options?.issues ?? [];
  }
}
