// Command-line parsing shared by every subcommand: node:util parseArgs plus units for sizes and
// durations. A bad value is a UsageError (one line naming it, exit code 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SEED_MAX } from '../util/prng.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Documented exit codes of every subcommand. `usage` also covers what the environment refuses
 * before a run (not enough memory, an output path that cannot be written); `internal` is a bug in
 * dmalog (sysexits' EX_SOFTWARE), never a failed check.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 70 } as const;

const SIZE_UNITS: Record<string, bigint> = { '': 1n, B: 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n };

/** `4G`, `512M`, `64K`, `4096`, `1.5G` (binary units; KiB-style suffixes accepted) → bytes. */
export function parseSize(text: string, what: string): bigint {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: '${text}' is not a size (try 4096, 64K, 512M, 4G)`);
  const unit = SIZE_UNITS[m[2]!.toUpperCase()]!;
  const [whole, frac = ''] = m[1]!.split('.');
  const scale = 10n ** BigInt(frac.length);
  const bytes = (BigInt(whole!) * scale + BigInt(frac || '0')) * unit / scale;
  if (bytes <= 0n) throw new UsageError(`${what}: '${text}' must be more than 0 bytes`);
  if (bytes >= 1n << 64n) throw new UsageError(`${what}: '${text}' does not fit in 64 bits`);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `300ms`, `2s`, `1.5s`, `5m` → milliseconds. A bare number is milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: '${text}' is not a duration (try 300ms, 2s, 5m)`);
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!;
  if (!Number.isFinite(ms) || ms <= 0) throw new UsageError(`${what}: '${text}' must be a positive duration`);
  return ms;
}

export function parseIntArg(text: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${what}: '${text}' is not a whole number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what}: '${text}' must be within ${min}..${max}`);
  return n;
}

/** A 64-bit seed: decimal or 0x hex, within 0..2^64-1. */
export function parseSeed(text: string, what = '--seed'): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) throw new UsageError(`${what}: '${text}' is not a whole number (decimal or 0x hex)`);
  const seed = BigInt(t);
  if (seed > SEED_MAX) throw new UsageError(`${what}: '${text}' does not fit in 64 bits`);
  return seed;
}

export function parseRate(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${what}: '${text}' must be a number within 0..1`);
  return n;
}

export function parseChoice<T extends string>(text: string, what: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${what}: '${text}' must be one of ${choices.join(', ')}`);
  return text as T;
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * What parseFlags returns: parseArgs' own result type for these options in strict mode. Named so the
 * declaration files can spell it (@types/node does not export it).
 */
export type ParsedFlags<T extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>>;

/** parseArgs with unknown options and stray positionals turned into UsageErrors. */
export function parseFlags<T extends FlagOptions>(argv: string[], options: T, allowPositionals = false): ParsedFlags<T> {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
}

/**
 * `--ram -1G` would be refused by parseArgs as "ambiguous" without naming the value; joined into
 * `--ram=-1G` it reaches the option's own parser, whose message names it.
 */
function joinNegativeValues(argv: string[], options: FlagOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
