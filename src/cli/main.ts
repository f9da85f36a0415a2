#!/usr/bin/env node
// dmalog's command line: parse, call the library, map outcomes to documented exit codes.
import { readFileSync } from 'node:fs';
import { DmalogError } from '../errors.js';
import { logLevelFromEnv } from '../host/options.js';
import { EXIT, UsageError } from './args.js';
import { COMMANDS, usage } from './commands/index.js';
import { profileOwnArgs } from './commands/profile.js';

/** The installed package's version: read from its package.json (dist/src/cli → package root), never copied. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** The command being run, once known: a usage error points at its own --help. */
let commandName: string | null = null;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // No command is bad usage like any other: one line on stderr, exit 2 (profile says the same).
  if (name === undefined) throw new UsageError(`which command? (one of ${Object.keys(COMMANDS).join(', ')})`);
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  commandName = name;
  // profile's own options come before the command it runs; a --help after that is the command's.
  const own = name === 'profile' ? profileOwnArgs(rest) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(command.help);
    return EXIT.ok;
  }
  // A log level nobody can use is refused at the edge, before any command starts a thread.
  logLevelFromEnv('silent');
  return command.run(rest);
}

/** Anything that is not a usage error reaching here is a bug in dmalog: its own exit code. */
function internalError(error: unknown): void {
  process.stderr.write(`dmalog: internal error (a bug, exit ${EXIT.internal}): ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(EXIT.internal);
}

// A reader that went away (`| head`) must not end a command with an EPIPE trace, nor change its
// outcome: from then on that stream's output is dropped, and the command finishes (its report
// file, its exit code) as it would have.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    internalError(error);
  });
}
process.on('uncaughtException', internalError);
process.on('unhandledRejection', internalError);

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    // A bad option the library refused (its message names the option) is a usage error too.
    if (error instanceof UsageError || (error instanceof DmalogError && error.code === 'DMALOG_BAD_OPTION')) {
      process.stderr.write(`dmalog: ${error.message} (see dmalog ${commandName === null ? '' : `${commandName} `}--help)\n`);
      process.exitCode = EXIT.usage;
    } else {
      internalError(error);
    }
  },
);
