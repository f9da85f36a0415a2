// One pino logger per thread, writing to stderr so stdout stays for results and --json.
// A run can bind context fields (a migration: `{ sync, simMs }`) that every line carries from
// then on, the device and coordinator lines included, so a log can be matched with its report.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './options.js';

/** Fields every line carries until the next bind (null: none). */
export type LogContext = Readonly<Record<string, unknown>> | null;

export function createLogger(level: LogLevel): { logger: Logger; flush: () => void; bind: (context: LogContext) => void } {
  const destination = pino.destination({ dest: 2, sync: false });
  let bound: Readonly<Record<string, unknown>> = {};
  // pino calls the mixin only for lines at an enabled level, and merges the line's own fields
  // into the object it returns (they win): a fresh copy each time, never the bound one.
  const logger = pino({ level, base: { pid: process.pid }, mixin: () => ({ ...bound }) }, destination);
  return {
    logger,
    flush: () => {
      try { destination.flushSync(); } catch { /* not ready yet or already closed: nothing buffered */ }
    },
    bind: (context) => { bound = context ?? {}; },
  };
}
