// One pino logger per thread, writing to stderr so stdout stays for results and --json.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './options.js';

export function createLogger(level: LogLevel): { logger: Logger; flush: () => void } {
  const destination = pino.destination({ dest: 2, sync: false });
  const logger = pino({ level, base: { pid: process.pid } }, destination);
  return {
    logger,
    flush: () => {
      try { destination.flushSync(); } catch { /* not ready yet or already closed: nothing buffered */ }
    },
  };
}
