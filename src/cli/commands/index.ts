// The subcommand table. Each command module exports { help, run(argv) → exit code }.
import * as demo from './demo.js';
import * as stress from './stress.js';
import * as fuzz from './fuzz.js';
import * as migrate from './migrate.js';

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
};

export function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n');
  return `dmalog: a simulated VFIO device DMA-logging host

usage: dmalog <command> [options]     dmalog <command> --help

commands:
${rows}

exit codes: 0 ok, 1 a check failed, 2 bad usage
environment: DMALOG_LOG_LEVEL=info|debug|silent|... (pino lines on stderr)
`;
}
