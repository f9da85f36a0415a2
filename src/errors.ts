// Every error dmalog raises, in one place. Two families, each with a stable `code`:
//   - VfioError: what the simulated kernel answers (an ioctl, a DMA, a tracker call). `errno` is the
//     name tests and callers match on, `code` the positive Linux number (uapi/errno.ts).
//     ReportSetError and StartError are VfioErrors that also say which tracker failed.
//   - DmalogError: errors of the library itself, `code` one of ERROR_CODES below.
import type { TrackerOutcome } from './coordinator/coordinator.js';
import type { FailureKind } from './fuzz/lane.js';
import { ERRNO, describeErrno, type Errno } from './uapi/errno.js';

/** Each DmalogError code and what it means; README's error table lists the same. */
export const ERROR_CODES = {
  DMALOG_BAD_OPTION: 'an option or argument is outside its range or of the wrong type; the message names it',
  DMALOG_STATE: 'the call is not allowed in the current state (already logging, a report set in flight, nothing to consume)',
  DMALOG_CLOSED: 'the host, coordinator or DMA pool is closed',
  DMALOG_ZEROING_RULE: 'a report set into a bitmap not zeroed since the last one (ZeroingViolation: non-zero bytes found)',
  DMALOG_NO_MEMORY: 'the run would need more memory than this machine has',
  DMALOG_UNSUPPORTED: 'a device cannot serve the run (no DMA logging, a granule the stress windows cannot hold)',
  DMALOG_INJECTED_FAULT: 'a fault injected on purpose fired in a tracker (InjectedFault)',
  DMALOG_FUZZ_FAILURE: 'the fuzzer caught a broken rule (FuzzFailure; `kind` says which)',
  DMALOG_SWEEP_OUTPUT: 'a sweep output cannot be read, written or joined: not sweep records, an I/O error, or points of another grid (GridMismatch); the message names the file',
} as const;

export type DmalogCode = keyof typeof ERROR_CODES;

const kVfioError = Symbol.for('dmalog.VfioError');

/** What an ioctl or DMA call rejects with. */
export class VfioError extends Error {
  readonly errno: Errno;
  readonly code: number;
  override name = 'VfioError';

  constructor(errno: Errno, detail?: string, options?: ErrorOptions) {
    super(detail ? `${errno} (${describeErrno(errno)}): ${detail}` : `${errno} (${describeErrno(errno)})`, options);
    this.errno = errno;
    this.code = ERRNO[errno];
  }

  // Recognised across module copies and realms (a worker's VfioError is one too).
  get [kVfioError](): true {
    return true;
  }

  // Subclasses inherit this static: for them, the ordinary prototype-chain test.
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== VfioError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kVfioError] === true;
  }
}

/** A report set that failed under policy 'fail': the first failing tracker's errno, and every outcome. */
export class ReportSetError extends VfioError {
  override name = 'ReportSetError';
  constructor(readonly tracker: string, errno: Errno, readonly outcomes: TrackerOutcome[]) {
    super(errno, `REPORT failed on ${tracker}; logging stopped (policy fail)`);
  }
}

/** A START that failed on `tracker`, after which the `rolledBack` trackers started before it were stopped. */
export class StartError extends VfioError {
  override name = 'StartError';
  constructor(readonly tracker: string, readonly rolledBack: number, cause: VfioError) {
    super(cause.errno, `START failed on ${tracker}; ${rolledBack} tracker(s) stopped again`, { cause });
  }
}

/** Errors of the library itself (not the simulated kernel): closed objects, bad options, … */
export class DmalogError extends Error {
  override name = 'DmalogError';
  constructor(readonly code: DmalogCode, message: string) {
    super(message);
  }
}

/** The bitmap held set bits when a report set began (found by the coordinator's verify scan). */
export class ZeroingViolation extends DmalogError {
  override name = 'ZeroingViolation';
  constructor(readonly firstNonZeroByte: number, readonly nonZeroBytes: number) {
    super('DMALOG_ZEROING_RULE', `bitmap is not zero at the start of a report set: ${nonZeroBytes} non-zero byte(s), first at offset ${firstNonZeroByte}`);
  }
}

/** What a fault that throws throws (inside the tracker; the host sees EIO or ENODEV). */
export class InjectedFault extends DmalogError {
  override name = 'InjectedFault';
  constructor(message: string) {
    super('DMALOG_INJECTED_FAULT', message);
  }
}

/** A rule the fuzzer checks, broken. */
export class FuzzFailure extends DmalogError {
  override name = 'FuzzFailure';
  /** The fuzzed call it happened on, when it did (describeCall). */
  call: string | null = null;
  constructor(readonly kind: FailureKind, readonly detail: string) {
    super('DMALOG_FUZZ_FAILURE', `${kind}: ${detail}`);
  }
}

/** A sweep output file that cannot be read as records or written (the message names the file and line). */
export class RecordFileError extends DmalogError {
  override name = 'RecordFileError';
  constructor(message: string) {
    super('DMALOG_SWEEP_OUTPUT', message);
  }
}

/** The grid of a sweep output differs from the one being run or merged. */
export class GridMismatch extends RecordFileError {
  override name = 'GridMismatch';
}
