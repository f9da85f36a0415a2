// VFIO migration v2's device state machine as a vfio-user server runs it (no P2P states): the
// direct arcs, and the walk a SET to a farther state takes (one reply for the whole walk, the
// device's handler called at each step). Pure: the session applies the steps.
//
// Direct arcs (libvfio-user's table, which is the kernel's vfio_mig_get_next_state without P2P):
//   STOP → RUNNING | STOP_COPY | RESUMING;  RUNNING → STOP | PRE_COPY;  PRE_COPY → RUNNING | STOP_COPY;
//   STOP_COPY → STOP;  RESUMING → STOP.
// PRE_COPY is entered only from RUNNING (never by a walk through STOP): from the stopped side it is
// EINVAL, as is a SET to ERROR, RUNNING_P2P or PRE_COPY_P2P, or to a number that is no state.
import { VFIO_DEVICE_STATE } from '../uapi/migration.js';
import type { Checked } from '../util/result.js';

const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY } = VFIO_DEVICE_STATE;
export type MigrationState = typeof STOP | typeof RUNNING | typeof STOP_COPY | typeof RESUMING | typeof PRE_COPY;

const ARCS: ReadonlyMap<number, readonly MigrationState[]> = new Map<number, MigrationState[]>([
  [STOP, [RUNNING, STOP_COPY, RESUMING]],
  [RUNNING, [STOP, PRE_COPY]],
  [PRE_COPY, [RUNNING, STOP_COPY]],
  [STOP_COPY, [STOP]],
  [RESUMING, [STOP]],
]);

export const STATE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(VFIO_DEVICE_STATE).map(([k, v]) => [v, k]));

export function isMigrationState(n: number): n is MigrationState {
  return ARCS.has(n);
}

/**
 * The states a SET from `from` to `to` passes through, `to` last ([] when already there); EINVAL
 * when `to` is not reachable that way. Breadth-first over the direct arcs: the shortest walk.
 */
export function migrationWalk(from: MigrationState, to: number): Checked<{ steps: MigrationState[] }> {
  if (!isMigrationState(to)) return { errno: 'EINVAL' };
  if (from === to) return { steps: [] };
  if (to === PRE_COPY && from !== RUNNING) return { errno: 'EINVAL' };
  const previous = new Map<MigrationState, MigrationState>();
  const queue: MigrationState[] = [from];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const next of ARCS.get(at)!) {
      if (next === from || previous.has(next) || (next === PRE_COPY && to !== PRE_COPY)) continue;
      previous.set(next, at);
      if (next === to) {
        const steps: MigrationState[] = [to];
        for (let s = previous.get(to)!; s !== from; s = previous.get(s)!) steps.unshift(s);
        return { steps };
      }
      queue.push(next);
    }
  }
  return { errno: 'EINVAL' };
}
