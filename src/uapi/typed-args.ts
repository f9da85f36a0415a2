// The arguments of the typed layers (DeviceTracker, IommufdCalls, the host's iommufd handle), checked
// before they are laid out as structs. A struct field wraps a value to its width as a C assignment
// would, so without this an IOVA of 2^64 + 4096 would START logging at 4096 and a bitmap pointer of
// 2^64 would point at user address 0. Refusals: a value that is not a u64 / u32 (a fraction, a
// negative, 2^64 and up, not a number at all) is DMALOG_BAD_OPTION naming the field; a bitmap
// pointer that names no address is EFAULT, the raw ABI's rule for a pointer (contract §2).
import { z } from 'zod';
import { VfioError } from '../errors.js';
import { parseOptions } from '../util/options.js';
import { U64_MAX } from './abi.js';
import { userPointer } from './user-memory.js';

/** A u64 field: a bigint or an integer number within 0 .. 2^64 - 1, filled as a bigint. */
export const u64 = z.union([z.bigint(), z.number()], { error: 'must be a u64: a bigint or an integer number' }).transform((v, ctx) => {
  if (typeof v === 'number' && !Number.isInteger(v)) {
    ctx.addIssue({ code: 'custom', message: `must be an integer u64 (got ${v})` });
    return z.NEVER;
  }
  const n = BigInt(v);
  if (n < 0n || n > U64_MAX) {
    ctx.addIssue({ code: 'custom', message: `must be a u64, 0 .. 2^64 - 1 (got ${n})` });
    return z.NEVER;
  }
  return n;
});

/** A u32 field (an object id): an integer number within 0 .. 2^32 - 1. */
export const u32 = z.number().int().min(0).max(2 ** 32 - 1);

const range = z.object({ iova: u64, length: u64 });
const startArgs = z.object({ pageSize: u64, ranges: z.array(range) });
const windowArgs = z.object({ iova: u64, length: u64, pageSize: u64 });

/** START's arguments (the typed layer's StartLogging), as u64 bigints. */
export function startArguments(req: unknown): { pageSize: bigint; ranges: Array<{ iova: bigint; length: bigint }> } {
  return parseOptions(startArgs, req);
}

/** A REPORT's or GET_DIRTY_BITMAP's window, as u64 bigints. */
export function windowArguments(req: unknown): { iova: bigint; length: bigint; pageSize: bigint } {
  return parseOptions(windowArgs, req);
}

/** An object id (HWPT, IOAS, device) as the u32 a struct holds. */
export function idArgument(name: string, id: unknown): number {
  return parseOptions(z.object({ [name]: u32 }), { [name]: id })[name] as number;
}

/** A bitmap pointer as the u64 a struct holds; one that names no user address is EFAULT. */
export function bitmapPointer(ptr: unknown): bigint {
  const at = userPointer(ptr);
  if (at === null || at < 0n || at > U64_MAX) throw new VfioError('EFAULT', `bitmap pointer ${String(ptr)} names no user address`);
  return at;
}
