// One profiled run: a node script under `node --cpu-prof --cpu-prof-dir=DIR` (worker threads
// inherit the flag: one .cpuprofile per thread), each file renamed after its thread's role, then a
// summary per thread: work, idle waiting, V8's own time and GC apart, the top work functions at
// their src/*.ts locations.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { formatSummary, summarizeProfile, type CpuProfile, type ThreadSummary } from './cpuprofile.js';
import { sourceMapper } from './source-maps.js';
import { THREAD_NAMES_ENV, nameProfiles, parseThreadRoles } from './threads.js';

export interface ProfileRunOptions {
  /** What node runs after its profiling flags: a script and its arguments. */
  script: string[];
  /** Where the profiles go (created when missing). */
  dir: string;
  /** Work functions listed per thread. */
  top: number;
  /** Paths are shown relative to it (the package root): `src/dma/engine.ts:49`. */
  root: string;
  /** Where the summary goes (the profiled command keeps stdout and stderr as they are). */
  write: (text: string) => void;
}

export interface ProfileRunResult {
  /** The profiled command's exit code (128 + signal number when a signal ended it). */
  code: number;
  /** One per thread, main first, in the order of their names. */
  threads: ThreadSummary[];
}

/** The file the roles of a run's threads are written down in (inside the profile folder). */
export const THREAD_ROLES_FILE = 'threads.txt';

/** What a thread without a recorded role ran: its entry under workers/, if the profile shows one. */
function entryOf(profile: CpuProfile): string | null {
  const entry = profile.nodes.find((n) => n.callFrame.url.startsWith('file://') && /\/workers\/[^/]+\.js$/.test(n.callFrame.url) && !n.callFrame.url.includes('/node_modules/'));
  return entry ? `worker-${basename(entry.callFrame.url, '.js')}` : null;
}

function runChild(script: string[], dir: string, rolesFile: string): Promise<number> {
  // Not NODE_OPTIONS: Node 20 refuses --cpu-prof there. No --cpu-prof-name: threads would share one file.
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...script], {
    stdio: 'inherit', env: { ...process.env, [THREAD_NAMES_ENV]: rolesFile },
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0)));
  });
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export async function runProfile(o: ProfileRunOptions): Promise<ProfileRunResult> {
  mkdirSync(o.dir, { recursive: true });
  const rolesFile = join(o.dir, THREAD_ROLES_FILE);
  rmSync(rolesFile, { force: true });
  // Only the files this run writes: --dir may name a folder used before.
  const before = new Set(readdirSync(o.dir));
  const code = await runChild(o.script, o.dir, rolesFile);
  const written = readdirSync(o.dir).filter((f) => /^CPU\..*\.cpuprofile$/.test(f) && !before.has(f));
  const roles = parseThreadRoles(existsSync(rolesFile) ? readFileSync(rolesFile, 'utf8') : '');
  const profiles = new Map(written.map((f) => [f, JSON.parse(readFileSync(join(o.dir, f), 'utf8')) as CpuProfile]));
  const names = nameProfiles(written, roles, (f) => entryOf(profiles.get(f)!));
  const where = sourceMapper(o.root);
  const threads: ThreadSummary[] = [];
  for (const [file, name] of names) {
    const target = `${name}.cpuprofile`;
    renameSync(join(o.dir, file), join(o.dir, target));
    threads.push(summarizeProfile(profiles.get(file)!, { thread: name, file: target, top: o.top, where }));
  }
  threads.sort((a, b) => (a.thread === 'main' ? -1 : b.thread === 'main' ? 1 : a.thread.localeCompare(b.thread, 'en', { numeric: true })));
  const sum = (k: 'work' | 'idle') => threads.reduce((n, t) => n + t.byKind[k], 0);
  o.write(`\n== CPU profiles: ${threads.length} thread(s) in ${o.dir} (exit code ${code}); work ${sum('work').toFixed(0)} ms, idle waiting ${sum('idle').toFixed(0)} ms over all threads\n`);
  for (const t of threads) o.write(`${formatSummary(t)}\n`);
  o.write('open one in Chrome DevTools (Performance → Load profile) or drag it onto https://www.speedscope.app\n');
  return { code, threads };
}
