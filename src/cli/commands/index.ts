// The subcommand table. Each command module exports { help, run(argv) → exit code }.
import { EXIT } from '../args.js';
import * as demo from './demo.js';
import * as stress from './stress.js';
import * as fuzz from './fuzz.js';
import * as migrate from './migrate.js';
import * as serve from './serve.js';
import * as profile from './profile.js';
import * as sweep from './sweep.js';
import * as explore from './explore.js';

export interface Command {
  summary: string;
  help: string;
  /** Exit codes the command adds to the common ones (0, 1, 2, 70), each with what it means. */
  exitCodes?: Readonly<Record<number, string>>;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  demo,
  stress,
  fuzz,
  migrate,
  serve,
  profile,
  sweep,
  explore,
};

/** What 0, 1, 2 and 70 mean for every command. */
export const COMMON_EXIT_CODES: Readonly<Record<number, string>> = {
  [EXIT.ok]: 'ok: the run finished and every check held',
  [EXIT.failed]: 'a check failed (memory differs, a page lost, a fuzz rule broken), or a migration failed',
  [EXIT.usage]: 'bad usage or a refused resource (a guest too big for this machine, a path that cannot be\n      used, a bad DMALOG_LOG_LEVEL): one line on stderr naming the value',
  [EXIT.internal]: 'internal error: a bug in dmalog, never a failed check (its stack trace follows)',
};

/** Every exit code with its meaning, common ones first, then what each command adds. */
export function exitCodeLines(): string[] {
  const codes = new Map<number, string[]>();
  for (const [code, text] of Object.entries(COMMON_EXIT_CODES)) codes.set(Number(code), [text]);
  for (const [name, c] of Object.entries(COMMANDS)) {
    for (const [code, text] of Object.entries(c.exitCodes ?? {})) {
      const list = codes.get(Number(code)) ?? [];
      list.push(`${name}: ${text}`);
      codes.set(Number(code), list);
    }
  }
  return [...codes].sort((a, b) => a[0] - b[0]).flatMap(([code, texts]) => texts.map((text, i) => `  ${(i === 0 ? String(code) : '').padEnd(4)}${text}`));
}

export function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n');
  return `dmalog: a simulated VFIO device DMA-logging host

usage: dmalog <command> [options]     dmalog <command> --help     dmalog --version

commands:
${rows}

exit codes (each command's --help says what they mean for it):
${exitCodeLines().join('\n')}
A reader that goes away (| head) drops the output, not the outcome.

environment: DMALOG_LOG_LEVEL=fatal|error|warn|info|debug|trace|silent (pino lines on stderr; any other
  value is a usage error)
`;
}
