#!/usr/bin/env node
// henb-sw-verify: runs the TypeScript sources through tsx, without a build step.
// The exit code is the one documented in `henb-sw-verify --help` (see src/cli/exit-codes.ts).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
// The command is done. Anything still holding the event loop (a file system call stuck in the thread pool,
// a socket a peer keeps open) must not keep the process alive: leave after a short grace period.
setTimeout(() => process.exit(), 3000).unref();
