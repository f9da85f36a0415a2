// Naming threads for `dmalog profile`: node --cpu-prof names each thread's file by thread id only,
// so while a profiled run goes on, the main thread writes down the role of every thread it starts
// (a device's tracker, a DMA pool thread, an iommufd) in the file DMALOG_THREAD_NAMES names, and
// the profile command renames the files after those roles once the run is over. Outside a
// profiled run nothing is written.
import { appendFileSync } from 'node:fs';
import { basename } from 'node:path';

/** The environment variable naming the thread-role file of a profiled run. */
export const THREAD_NAMES_ENV = 'DMALOG_THREAD_NAMES';

/**
 * Roles of which a run has several interchangeable threads: numbered from 1 (`dma-pool-1`).
 * Any other role is a name of its own (`tracker-nic0`); a second thread of it gets `.2`.
 */
const POOL_ROLES = new Set(['dma-pool', 'iommufd']);

/** Write down that thread `threadId` is `role` (`tracker-nic0`, `dma-pool`): for a profiled run only. */
export function recordThreadRole(threadId: number, role: string): void {
  const file = process.env[THREAD_NAMES_ENV];
  if (file === undefined || file === '') return;
  try {
    appendFileSync(file, `${threadId} ${role.replace(/[^A-Za-z0-9_.-]/g, '_')}\n`);
  } catch {
    // A profile without names is still a profile: the run must not fail for it.
  }
}

/** The roles written down, by thread id (a later line for the same id wins). */
export function parseThreadRoles(text: string): Map<number, string> {
  const roles = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (m) roles.set(Number(m[1]), m[2]!);
  }
  return roles;
}

/** File names are CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread. */
export function threadIdOf(file: string): number | null {
  const parts = basename(file).split('.');
  return parts.length >= 7 && /^\d+$/.test(parts[parts.length - 3]!) ? Number(parts[parts.length - 3]) : null;
}

/**
 * A name for each profile file: `main` for thread 0, the recorded role for the others (pool roles
 * numbered in thread id order), else `fallback(file)` (e.g. what the profile shows it ran) or
 * `thread-<id>`. Names are unique: a repeated one gets `.2`, `.3`, ...
 */
export function nameProfiles(files: readonly string[], roles: ReadonlyMap<number, string>, fallback: (file: string) => string | null = () => null): Map<string, string> {
  const byId = [...files].sort((a, b) => (threadIdOf(a) ?? Infinity) - (threadIdOf(b) ?? Infinity));
  const poolCount = new Map<string, number>();
  const used = new Map<string, number>();
  const names = new Map<string, string>();
  for (const file of byId) {
    const id = threadIdOf(file);
    let name = id === 0 ? 'main' : (id !== null ? roles.get(id) : undefined) ?? fallback(file) ?? `thread-${id ?? '?'}`;
    if (POOL_ROLES.has(name)) {
      const k = (poolCount.get(name) ?? 0) + 1;
      poolCount.set(name, k);
      name = `${name}-${k}`;
    }
    const seen = (used.get(name) ?? 0) + 1;
    used.set(name, seen);
    names.set(file, seen === 1 ? name : `${name}.${seen}`);
  }
  return names;
}
