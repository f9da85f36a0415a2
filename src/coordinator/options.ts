// Coordinator options: checked once where a coordinator is made (a zod schema, util/options.ts),
// merged over defaults into FilledCoordinatorOptions. Refusals are DMALOG_BAD_OPTION naming the option.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { DirtyTracker } from '../trackers/tracker.js';
import { parseOptions } from '../util/options.js';

export type RecoveryPolicy = 'fail' | 'restart';
export const RECOVERY_POLICIES = ['fail', 'restart'] as const satisfies readonly RecoveryPolicy[];

export interface CoordinatorOptions {
  trackers: DirtyTracker[];
  memory: SharedArrayBuffer;
  /** Allocates user memory for bitmaps (e.g. `host.alloc.bind(host)`). */
  allocate: (bytes: number) => number;
  /** `fail` (QEMU's, default): the first failed REPORT ends the set; `restart`: recover (coordinator.ts). */
  policy?: RecoveryPolicy;
  /** Checking mode: verify the bitmap really is all zero at the start of every report set. */
  verifyZeroed?: boolean;
  logger?: Logger;
}

export interface FilledCoordinatorOptions {
  trackers: DirtyTracker[];
  memory: SharedArrayBuffer;
  allocate: (bytes: number) => number;
  policy: RecoveryPolicy;
  verifyZeroed: boolean;
  logger: Logger | undefined;
}

const TRACKER_METHODS = ['probe', 'startLogging', 'stopLogging', 'report'] as const;

const tracker = z.custom<DirtyTracker>(
  (v) => typeof v === 'object' && v !== null && typeof (v as DirtyTracker).name === 'string' && TRACKER_METHODS.every((m) => typeof (v as DirtyTracker)[m] === 'function'),
  'must be a tracker (a name and probe, startLogging, stopLogging, report)',
);

export const coordinatorSchema = z.strictObject({
  trackers: z.array(tracker).min(1, 'must be a non-empty array'),
  memory: z.custom<SharedArrayBuffer>((v) => v instanceof SharedArrayBuffer, 'must be a SharedArrayBuffer'),
  allocate: z.custom<(bytes: number) => number>((v) => typeof v === 'function', 'must be a function'),
  policy: z.enum(RECOVERY_POLICIES).default('fail'),
  verifyZeroed: z.boolean().default(false),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).child === 'function', 'must be a pino logger').optional(),
});

export function fillCoordinatorOptions(options: CoordinatorOptions): FilledCoordinatorOptions {
  const o = parseOptions(coordinatorSchema, options);
  return { ...o, logger: o.logger };
}
