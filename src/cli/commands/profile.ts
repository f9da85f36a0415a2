// `dmalog profile [--top N] [--dir DIR] <command> [args...]`: another command under the CPU
// profiler (src/profile/run.ts), one profile per thread named after what the thread is.
import { fileURLToPath } from 'node:url';
import { UsageError, parseIntArg } from '../args.js';
import { makeDirectory } from '../files.js';
import { runProfile } from '../../profile/run.js';

export const summary = 'run another command under the CPU profiler: one profile per thread, summed up';
export const help = `usage: dmalog profile [--top N] [--dir DIR] <command> [args...]

Runs \`dmalog <command> [args...]\` (migrate, stress, fuzz, demo) under node --cpu-prof: every
thread (the main one, each device's tracker, each DMA pool thread, an iommufd's) writes its own
profile, named after it: main.cpuprofile, tracker-nic0.cpuprofile, dma-pool-1.cpuprofile,
iommufd-1.cpuprofile (a second thread of the same name gets .2). The command's output is
unchanged; then, on stdout, each thread's time: work, idle waiting (the event loop's idle time,
a pool thread waiting in Atomics.wait for its next task), V8's own "program" time and garbage
collection, and the top functions of its work by self time, at their place in src/*.ts (through
the source maps the package ships).

  --top N     work functions listed per thread (default 12)
  --dir DIR   where the profiles go, created if missing (default profiles/<date-time>/ in the
              current directory); a profile of an earlier run there with the same name is replaced

Options of profile come before the command; everything after the command is the command's own.
Open a profile in Chrome DevTools (Performance → Load profile) or at https://www.speedscope.app.

exit codes: the profiled command's own exit code; 2 bad usage of profile itself (before anything
runs), 70 internal error (a bug in dmalog)
`;

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
/** The package root: profile locations are shown relative to it (dist/src/cli/commands → root). */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const PROFILED = ['migrate', 'stress', 'fuzz', 'demo'];

/**
 * The arguments that are profile's own: its options up to the command (`--top N`, `--dir DIR`,
 * their `=` forms, and anything else starting with `-`, which parseProfileArgs refuses). A
 * `--help` among them is profile's; one after the command is the command's.
 */
export function profileOwnArgs(argv: readonly string[]): string[] {
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    if ((argv[i] === '--top' || argv[i] === '--dir') && i + 1 < argv.length) i++;
  }
  return argv.slice(0, i);
}

export interface ProfileArgs { top: number; dir: string; command: string; args: string[] }

/** argv → what to profile; `extra` names other targets (a checkout's `bench`). Pure but for the default dir's clock. */
export function parseProfileArgs(argv: readonly string[], extra: readonly string[] = [], now = new Date()): ProfileArgs {
  let top = 12;
  let dir = `profiles/${now.toISOString().replace(/[:.]/g, '-')}`;
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (flag !== '--top' && flag !== '--dir') throw new UsageError(`profile: unknown option '${flag}' (options come before the command)`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag}: needs a value`);
    if (flag === '--top') top = parseIntArg(value, '--top', 1, 1000);
    else if (value === '') throw new UsageError('--dir: must name a folder');
    else dir = value;
  }
  const command = argv[i];
  const known = [...PROFILED, ...extra];
  if (command === undefined) throw new UsageError(`profile: which command? (one of ${known.join(', ')})`);
  if (!known.includes(command)) throw new UsageError(`profile: '${command}' is not a command it can run (one of ${known.join(', ')})`);
  return { top, dir, command, args: argv.slice(i + 1) };
}

/**
 * Profile `dmalog <command>`, or a script named in `scripts` (the checkout's benchmark runner),
 * printing the summary on stdout; resolves with the profiled command's exit code.
 */
export async function profile(argv: readonly string[], scripts: Readonly<Record<string, string>> = {}): Promise<number> {
  const a = parseProfileArgs(argv, Object.keys(scripts));
  // Before anything runs: a --dir that cannot be a folder is bad usage of profile itself.
  makeDirectory(a.dir, '--dir');
  const script = scripts[a.command] !== undefined ? [scripts[a.command]!, ...a.args] : [MAIN, a.command, ...a.args];
  const { code } = await runProfile({ script, dir: a.dir, top: a.top, root: ROOT, write: (text) => process.stdout.write(text) });
  return code;
}

export function run(argv: string[]): Promise<number> {
  return profile(argv);
}
