// Integer helpers shared by every layer: exact division rounding, the power-of-two test, popcount.
// Numbers here are integers (safe or not past 2^53 - 1); bigints cover u64 IOVAs and lengths.

/** Floor division for bigint (JS `/` truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/**
 * ceil(a / b). For safe integers the float quotient is already exact enough: its rounding error is
 * under half an ulp, below 1/b, so it never crosses an integer and Math.ceil lands on the true
 * ceiling. Bigints (u64 IOVAs) are exact by construction.
 */
export function ceilDiv(a: bigint, b: bigint): bigint;
export function ceilDiv(a: number, b: number): number;
export function ceilDiv(a: number | bigint, b: number | bigint): number | bigint {
  return typeof a === 'bigint' ? -floorDiv(-a, b as bigint) : Math.ceil(a / (b as number));
}

/** A positive power of two (1, 2, 4, …); zero and negatives are not. */
export function isPowerOfTwo(n: number | bigint): boolean {
  if (typeof n === 'bigint') return n > 0n && (n & (n - 1n)) === 0n;
  // Numbers past 2^31 do not survive `&`; compare against the exact power instead.
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Set bits of a 32-bit word (a uint32 or the same bits as an int32). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
