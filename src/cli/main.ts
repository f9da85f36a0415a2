#!/usr/bin/env node
// dmalog's command line: parse, call the library, map outcomes to documented exit codes.
import { EXIT, UsageError } from './args.js';
import { COMMANDS, usage } from './commands/index.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help);
    return EXIT.ok;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`dmalog: ${error.message} (see dmalog --help)\n`);
      process.exitCode = EXIT.usage;
    } else {
      process.stderr.write(`dmalog: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT.failed;
    }
  },
);
