// Command-line parsing shared by every subcommand: node:util parseArgs plus units for sizes and
// durations. A bad value is a UsageError (one line naming it, exit code 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DmalogError } from '../errors.js';
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
  const scaled = (BigInt(whole!) * scale + BigInt(frac || '0')) * unit;
  // A fraction is a way to write bytes (1.5G), never part of one: 1.3K (1331.2 bytes) is refused, not cut.
  if (scaled % scale !== 0n && scaled > 0n) throw new UsageError(`${what}: '${text}' is not a whole number of bytes`);
  const bytes = scaled / scale;
  if (bytes <= 0n) throw new UsageError(`${what}: '${text}' must be more than 0 bytes`);
  if (bytes >= 1n << 64n) throw new UsageError(`${what}: '${text}' does not fit in 64 bits`);
  return bytes;
}

const BIT_UNITS: Record<string, number> = { K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** `10G` for a number of bits per second: decimal, as NIC speeds are sold (10G = 10^10 bit/s). */
function bitRateName(bitsPerSecond: number): string {
  for (const [unit, scale] of [['T', 1e12], ['G', 1e9], ['M', 1e6], ['K', 1e3]] as const) {
    if (bitsPerSecond >= scale) return `${Number((bitsPerSecond / scale).toPrecision(6))}${unit}`;
  }
  return `${bitsPerSecond}`;
}

/**
 * A link speed in bits per second, as a NIC's is quoted: `10G` = 10 Gbit/s, `25G`, `100G`,
 * `2.5G`, `800M` (decimal units; `10Gbit`, `10Gb/s`, `10Gbps` too) → bytes per second (÷ 8).
 * The one rate given in bits: sizes and the bandwidth are bytes. A bare number is refused, since
 * it used to mean bytes per second: the message gives the same speed in the new form.
 */
export function parseLinkSpeed(text: string, what: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const bytes = Number(t);
    throw new UsageError(`${what}: '${text}' has no unit; a link speed is in bits per second, as a NIC's (10G = 10 Gbit/s)${bytes > 0 ? `: ${t} bytes/s is ${bitRateName(bytes * 8)}` : ''}`);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTkmgt])(?:bit|b|bps)?(?:\/s)?$/.exec(t);
  if (!m) throw new UsageError(`${what}: '${text}' is not a link speed in bits per second (try 1G, 10G, 25G, 100G)`);
  const bits = Number(m[1]) * BIT_UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isFinite(bits) || bits <= 0) throw new UsageError(`${what}: '${text}' must be a positive link speed`);
  return Math.round(bits / 8);
}

/** Bytes per second as a link speed: `10 Gbit/s`. */
export function formatLinkSpeed(bytesPerSecond: number): string {
  return `${bitRateName(bytesPerSecond * 8)}bit/s`.replace(/^([\d.]+)([KMGT]?)bit/, '$1 $2bit');
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

/**
 * A library refusal (DMALOG_BAD_OPTION, or DMALOG_NO_MEMORY for a run too big) as a usage error:
 * when its message starts with an option field a flag set (`fieldFlags`: field → flag), it names
 * that flag and the value given; any other error goes on as it is.
 */
export function asFlagUsage(error: unknown, fieldFlags: Readonly<Record<string, string>>, given: Readonly<Record<string, unknown>>): never {
  if (!(error instanceof DmalogError) || (error.code !== 'DMALOG_BAD_OPTION' && error.code !== 'DMALOG_NO_MEMORY')) throw error;
  const m = /^([A-Za-z]+): (.*)$/.exec(error.message);
  const flag = m ? fieldFlags[m[1]!] : undefined;
  if (m && flag !== undefined && typeof given[flag] === 'string') throw new UsageError(`--${flag} '${given[flag] as string}': ${m[2]}`);
  throw new UsageError(error.message);
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
