/** Errors of configuration loading. Codes are listed in docs/errors.md. */
import { HsvError } from '../errors.js';
import type { SchemaIssue } from './schema-issues.js';

export type ConfigErrorCode = 'ERR_CONFIG_READ' | 'ERR_CONFIG_PARSE' | 'ERR_CONFIG_INVALID' | 'ERR_CONFIG_SECRET';

export interface LocatedIssue extends SchemaIssue {
  file: string;
  /** 1-based line and column in the file, when known */
  line?: number;
  col?: number;
}

export class ConfigError extends HsvError<ConfigErrorCode> {
  readonly issues: LocatedIssue[];
  constructor(code: ConfigErrorCode, message: string, options?: { cause?: unknown; issues?: LocatedIssue[] }) {
    super(code, message, options);
    this.issues = options?.issues ?? [];
  }
}
