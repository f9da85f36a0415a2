// The one way options are checked at the public edge: a zod schema, and its first issue turned into
// DMALOG_BAD_OPTION naming the option by its path (`devices[0].barBytes: …`).
import type { z } from 'zod';
import { DmalogError } from '../errors.js';

/** DMALOG_BAD_OPTION for the option at `path`. */
export function badOption(path: ReadonlyArray<PropertyKey>, message: string): never {
  const at = path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
  throw new DmalogError('DMALOG_BAD_OPTION', `${at || 'options'}: ${message}`);
}

/** `input` parsed by `schema` (defaults filled in), or DMALOG_BAD_OPTION for its first issue. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  // An unknown key is named in the path itself: devices[0].bogus, not devices[0].
  if (issue.code === 'unrecognized_keys') badOption([...issue.path, issue.keys[0]!], 'unknown field');
  badOption(issue.path, issue.message);
}
