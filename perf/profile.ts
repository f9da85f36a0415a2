#!/usr/bin/env node
// `npm run profile -- [--top N] [--dir DIR] <command> [args...]`: `dmalog profile` (src/cli/commands/profile.ts),
// plus `bench ...` for the benchmark runner of this checkout: `npm run profile -- bench report --only "1 %"`.
import { fileURLToPath } from 'node:url';
import { UsageError } from '../src/cli/args.js';
import { help, profile } from '../src/cli/commands/profile.js';

const BENCH = fileURLToPath(new URL('./run.js', import.meta.url));
const argv = process.argv.slice(2);

if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
  process.stdout.write(`${help}\nIn a checkout, \`bench [args...]\` profiles the benchmark runner (perf/run.ts).\n`);
} else {
  profile(argv, { bench: BENCH }).then((code) => { process.exitCode = code; }, (error: unknown) => {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`npm run profile: ${error.message} (see npm run profile -- --help)\n`);
    process.exitCode = 2;
  });
}
