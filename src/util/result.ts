// The tagged union the simulated kernel speaks internally: a value, or the errno it fails with.
// Checks return it instead of throwing so that each step stays a plain function; the host turns a
// failure into a VfioError at the ioctl edge.
import { VfioError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';

export type Failure = { errno: Errno };
export type Checked<T> = T | Failure;
/** Alias of Checked for readers who know the name from other languages. */
export type Result<T> = Checked<T>;

export function failed<T>(r: Checked<T>): r is Failure {
  return typeof r === 'object' && r !== null && 'errno' in r;
}

/** The value of a result that must succeed (benches, fixtures); `what` names the step in the throw. */
export function ok<T>(r: Checked<T>, what: string): T {
  if (failed(r)) throw new VfioError(r.errno, what);
  return r;
}
