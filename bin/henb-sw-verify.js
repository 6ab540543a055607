#!/usr/bin/env node
// henb-sw-verify: runs the TypeScript sources through tsx, without a build step.
// The exit code is the one documented in `henb-sw-verify --help` (see src/cli/exit-codes.ts).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
