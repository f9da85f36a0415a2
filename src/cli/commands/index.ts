// The subcommand table. Each command module exports { help, run(argv) → exit code }.
import { EXIT } from '../args.js';
import * as demo from './demo.js';
import * as stress from './stress.js';
import * as fuzz from './fuzz.js';
import * as migrate from './migrate.js';
import * as explore from './explore.js';

export interface Command {
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  demo,
  stress,
  fuzz,
  migrate,
  explore,
};

export function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n');
  return `dmalog: a simulated VFIO device DMA-logging host

usage: dmalog <command> [options]     dmalog <command> --help     dmalog --version

commands:
${rows}

exit codes: ${EXIT.ok} ok, ${EXIT.failed} a check failed, ${EXIT.usage} bad usage or a refused resource (one line naming
  the value: a guest too large for this machine, an input or output path that cannot be used),
  ${EXIT.internal} an internal error (a bug in dmalog; its stack trace follows); migrate adds 3 and 4,
  stress adds 3 (see each command's --help). A reader that goes away (| head) drops the output, not the outcome.
environment: DMALOG_LOG_LEVEL=fatal|error|warn|info|debug|trace|silent (pino lines on stderr; any other
  value is a usage error)
`;
}
